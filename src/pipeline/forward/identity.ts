// How the checked identity is told to Jira. Header mode (default): the identity header plus the
// shared secret. Other modes (OAuth 1.0a impersonation, credential map) plug in as IdentityForwarders.
import type { IncomingMessage } from 'node:http';
import type { RequestState } from '../state.js';
import type { SidecarError } from '../../errors.js';

export interface ForwardTarget {
  method: string;
  /** Full upstream URL the request goes to (for signatures). */
  url: URL;
  /** The origin-form target sent upstream exactly as the client spelled it (base path + path + query). */
  path: string;
  /** The client request (a forwarder may need to read a form body to sign it). */
  req: IncomingMessage;
}

export interface IdentityPlan {
  /** Headers to add; the client's Authorization and Jira session cookies are removed. */
  headers: Array<[string, string]>;
  /** When set, sent instead of streaming the client body (a forwarder that had to read it). */
  body?: Buffer;
  /** When set, the origin-form target sent instead of ForwardTarget.path (e.g. xoauth_requestor_id added). */
  path?: string;
  /**
   * Looks at Jira's response head before anything reaches the client. A returned error replaces the
   * response (e.g. Jira's 401 to an OAuth signature or a mapped credential -> 502
   * upstream_rejected_identity, with Jira's reason in the error detail, which is logged).
   */
  checkResponse?: (status: number, rawHeaders: string[]) => SidecarError | undefined;
  /**
   * When set, `headers` are good for one attempt only (an OAuth 1.0a nonce + timestamp: a provider
   * must refuse a replayed nonce, RFC 5849 §3.3), and this builds the headers for another attempt of
   * the same request (the stale keep-alive retry). Unset: `headers` are sent again as they are.
   */
  reattempt?: () => Promise<Array<[string, string]>>;
}

export type IdentityForwarder = (state: RequestState, target: ForwardTarget) => IdentityPlan | undefined | Promise<IdentityPlan | undefined>;

/** Kinds whose credential the sidecar consumed and replaces with the checked identity. */
export const isReplacedCredential = (state: RequestState) =>
  state.identity !== undefined && (state.credential?.kind === 'jwt' || state.credential?.kind === 'api-token' || state.credential?.kind === 'opaque-bearer');

/** Header mode: identity header + shared secret (sent only together with an identity). */
export const headerIdentity: IdentityForwarder = (state) => {
  if (!isReplacedCredential(state)) return undefined;
  const up = state.policy.config.upstream;
  const headers: Array<[string, string]> = [[up.identityHeader, state.identity!.username]];
  if (up.sharedSecret) headers.push([up.sharedSecretHeader, up.sharedSecret]);
  return { headers };
};

declare module '../deps.js' {
  interface Services {
    /** Picks the forwarder per request (issuer / client); header mode when unset. */
    identityForwarder?: (state: RequestState) => IdentityForwarder;
  }
}
