// The typed request state shared by every stage. Stages never import each other: they meet here.
import type { IncomingHttpHeaders } from 'node:http';
import type { ErrorCode } from '../errors.js';
import type { Policy } from '../config/policy.js';

/** Stage names: one name everywhere (folder, pipeline row, audit, /api/test explanation). */
export type StageName =
  | 'request-id'
  | 'audit'
  | 'client-ip'
  | 'route-rules'
  | 'credentials'
  | 'verify'
  | 'authorize'
  | 'rate-limit'
  | 'forward';

/** What arrived, as plain data: the proxy builds it from the socket, POST /api/test from JSON. */
export interface RequestFacts {
  method: string;
  /** The request target exactly as received (origin-form or absolute-form), query included. */
  rawTarget: string;
  /** Header names lower-case; repeated headers are arrays (node's IncomingHttpHeaders shape). */
  headers: IncomingHttpHeaders;
  /** Raw header list as received [name, value, name, value, ...] (duplicates and spelling kept). */
  rawHeaders: string[];
  /** Address of the TCP peer (the last hop). */
  peerIp: string;
  /** Milliseconds since the epoch when the request arrived (from the injected Clock). */
  receivedAt: number;
}

export type RouteKind = 'unprotected' | 'bypass' | 'lockdown' | 'guarded';

export type CredentialKind =
  | 'jwt'
  | 'api-token'
  | 'jira-pat'
  | 'opaque-bearer'
  | 'basic'
  | 'oauth1'
  | 'session'
  | 'anonymous';

export interface Credential {
  kind: CredentialKind;
  /** The secret value (token / basic payload). Never logged, never audited. */
  secret?: string;
  /** The Authorization scheme as sent (lower-cased), when there was one. */
  scheme?: string;
  /** What the sidecar does with it, from the `credentials` settings. */
  action: 'verify' | 'passthrough' | 'deny';
  /** The `credentials` setting that classified it (basic, jiraPat, oauth1, jwt, apiToken, …). */
  rule?: string;
  /**
   * Who the credential claims to be, where that is not a secret: the Basic or os_username user name,
   * "PAT <id>" (a Jira PAT's numeric id), "consumer <key>" (OAuth 1.0a). Unverified: for the audit's
   * "who still uses this" report, never for a decision.
   */
  principal?: string;
}

export interface Identity {
  /** The Jira username the request acts as. */
  username: string;
  /** How it was proven. */
  source: 'jwt' | 'introspection' | 'api-token';
  groups: string[];
  roles: string[];
  /** Issuer name (config) for JWT / introspection. */
  issuer?: string;
  /** Client application id (azp / appid / client_id) when known. */
  clientId?: string;
  /** True for app-only (client-credentials) tokens of service principals. */
  isServicePrincipal: boolean;
  /** Our API token id when source is api-token. */
  tokenId?: string;
  /** API token scope: read-only or read-write, optional path patterns. */
  scope?: { access: 'read' | 'write'; paths: string[] };
  /** Per-token IP allow-list and rate-limit override (API tokens). */
  ipAllowlist?: string[];
  rateLimit?: { points: number; durationSec: number };
  /** Seconds since the epoch when the proof expires (caches never outlive it). */
  expiresAt?: number;
  /** Raw claims for the admin test page (never forwarded). */
  claims?: Record<string, unknown>;
}

/** One rule's verdict: the audit explanation and the /api/test answer are this list. */
export interface Verdict {
  stage: StageName;
  rule: string;
  /** report: the rule would have refused (code) but is in report mode (enforcement.rules). */
  outcome: 'pass' | 'deny' | 'skip' | 'info' | 'report';
  detail?: string;
  code?: ErrorCode;
}

/** A refusal a rule in report mode did not make (issue 18): what enforcing it would have answered. */
export interface WouldDeny {
  code: ErrorCode;
  stage: StageName;
  /** The enforcement key that put the rule in report mode's scope: "family:entry" (e.g. "readOnlyGroups:contractors"). */
  rule: string;
  detail: string;
}

export interface RateLimitInfo {
  limit: number;
  remaining: number;
  resetSec: number;
  key: string;
  /** Points / tokens this request takes (rateLimit.costs; 1 by default). */
  cost?: number;
  /** Token bucket (rateLimit.algorithm "token-bucket"): refill, and seconds until `cost` tokens are there (0: now). */
  bucket?: { fillRate: number; intervalSec: number; retrySec: number };
}

/** ctx.state of the proxy app and the result of evaluate(): filled in stage by stage. */
export interface RequestState {
  requestId: string;
  /** The policy snapshot this request is judged by (a reload never changes it mid-request). */
  policy: Policy;
  facts: RequestFacts;
  clientIp?: string;
  /** Canonical path (Tomcat routing) used for every decision; the upstream gets the original bytes. */
  canonicalPath?: string;
  /**
   * True when canonicalisation resolved dot-segments or removed ";parameters": such a spelling
   * never earns a path-based exception (bypass, readSafePosts, API-token path scope).
   */
  pathAltered?: boolean;
  route?: RouteKind;
  credential?: Credential;
  identity?: Identity;
  rateLimit?: RateLimitInfo;
  verdicts: Verdict[];
  /** Refusals of rules in report mode, in the order the stages met them (audit wouldDeny is the first). */
  wouldDeny?: WouldDeny[];
  /** Set when a stage refused: the code is the audit reason. */
  refusal?: { code: ErrorCode; status: number; stage: StageName; rule?: string; message: string };
  upstreamStatus?: number;
  /**
   * The request's trace (tracing.enabled; pipeline/trace/): its span, when it started, each decision
   * stage's [name, from, to] and when the call to Jira began (wall-clock ms).
   */
  trace?: { span: import('@opentelemetry/api').Span; start: number; stages: Array<[StageName, number, number]>; upstreamFrom?: number };
  /** The W3C traceparent Jira receives (tracing on): the request's span. Unset: the caller's, if any, passes as sent. */
  traceparent?: string;
  /** The sidecar's own start-up warm-up request (http/warm-up.ts): judged, then answered 204; never forwarded, audited or counted. */
  warmup?: boolean;
  /** Set by forward when bytes reached the client (for audit of aborted streams). */
  bytesOut?: number;
  /**
   * Headers a stage adds to the answer, as a flat name/value list (RateLimit-* from rate-limit):
   * forward sends them on the relayed response, replacing Jira's copies of the same names, and
   * request-id puts them on answers Koa writes. X-Request-Id is added by both without being listed.
   */
  responseHeaders?: string[];
}

export type Decision = {
  allow: boolean;
  status: number;
  code: ErrorCode | 'allowed';
  reason: string;
  stage?: StageName;
  rule?: string;
  clientIp?: string;
  canonicalPath?: string;
  route?: RouteKind;
  credentialKind?: CredentialKind;
  identity?: Omit<Identity, 'claims'> & { claims?: Record<string, unknown> };
  rateLimit?: RateLimitInfo;
  /** What rules in report mode would have refused (empty: nothing). */
  wouldDeny: WouldDeny[];
  verdicts: Verdict[];
};
