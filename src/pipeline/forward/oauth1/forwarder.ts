// oauth1-impersonation: the sidecar is a Jira application-link consumer ("OAuth with impersonation",
// 2-legged OAuth 1.0a, RSA-SHA1). Each forwarded request is signed for the checked user, who is named
// in `xoauth_requestor_id` — a query parameter, as Atlassian's own applinks client sends it (its OAuth
// library puts only oauth_* parameters in the Authorization header); Jira reads it from the signed
// request parameters, so it is covered by the signature (RFC 5849 §3.4.1.3.1).
import { randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SidecarError } from '../../../errors.js';
import type { Clock } from '../../../clock.js';
import type { RequestState } from '../../state.js';
import type { ForwardTarget, IdentityForwarder, IdentityPlan } from '../identity.js';
import { parseFormParams, signRequest, oauthEncode, formDecode } from './sign.js';

export interface OAuth1Settings {
  consumerKey: string;
  privateKey: KeyObject;
  /** Origin used in the signature base string (Jira's view of itself). */
  origin: string;
  maxFormBodyBytes: number;
  sendEmptyToken: boolean;
}

const REQUESTOR = 'xoauth_requestor_id';

/**
 * Parameters a client must never choose: its own requestor id (Jira's OAuth library returns the
 * first of duplicate parameters, so a client-sent `?xoauth_requestor_id=admin` could win) and any
 * oauth_* protocol parameter (RFC 5849 §3.5: protocol parameters may also arrive in the query or
 * body; a client-sent oauth_token would turn our 2-legged request into something else).
 */
export const isReservedParam = (rawName: string) => {
  const n = formDecode(rawName).toString('latin1').toLowerCase();
  return n === REQUESTOR || n.startsWith('oauth_') || n.startsWith('xoauth_');
};

/** Keeps a query or form string's pairs byte for byte, minus empty and reserved ones. */
export function stripReserved(encoded: string): { kept: string; removed: number } {
  let removed = 0;
  const kept = encoded.split('&').filter((pair) => {
    if (pair === '') return false;
    const eq = pair.indexOf('=');
    if (isReservedParam(eq < 0 ? pair : pair.slice(0, eq))) {
      removed++;
      return false;
    }
    return true;
  });
  return { kept: kept.join('&'), removed };
}

const isFormBody = (req: IncomingMessage) => {
  const ct = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const ce = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  // RFC 5849 §3.4.1.3.1: body parameters count only for a single-part form body; a compressed
  // body is not one (and Jira would not decode it into parameters either).
  return ct === 'application/x-www-form-urlencoded' && ce === 'identity';
};

/** Reads the whole body, refusing more than max bytes (413) before buffering it. */
export function readBounded(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) return Promise.reject(new SidecarError('body_too_large', { detail: `form body of ${declared} bytes > oauth1.maxFormBodyBytes ${max}` }));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (e: SidecarError) => {
      req.off('data', onData);
      req.resume();
      reject(e);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) return fail(new SidecarError('body_too_large', { detail: `form body over oauth1.maxFormBodyBytes ${max}` }));
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', () => fail(new SidecarError('bad_request', { detail: 'client aborted while sending the form body' })));
    req.once('aborted', () => fail(new SidecarError('bad_request', { detail: 'client aborted while sending the form body' })));
  });
}

/** "OAuth realm=\"x\", oauth_problem=\"timestamp_refused\"" -> {realm: 'x', oauth_problem: 'timestamp_refused'} */
export function parseOAuthChallenge(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = value.replace(/^\s*OAuth\s*/i, '');
  for (const m of body.matchAll(/([A-Za-z0-9_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) {
    let v = m[2] ?? m[3] ?? '';
    try {
      v = decodeURIComponent(v);
    } catch {
      /* keep as sent */
    }
    out[m[1]!] = v;
  }
  return out;
}

const HINTS: Record<string, string> = {
  timestamp_refused: "the sidecar's clock differs from Jira's by more than Jira accepts: fix NTP on both hosts",
  nonce_used: 'Jira saw this nonce before (a replay, or two sidecars sharing a clock and a random source)',
  signature_invalid: 'check that Jira holds the public key of oauth1.privateKey*, and that oauth1.jiraBaseUrl is the URL Jira sees requests at',
  consumer_key_unknown: 'no application link in Jira has incoming authentication with this consumer key',
  consumer_key_refused: 'the application link does not allow 2-legged OAuth with impersonation ("Execute as" / "Allow user impersonation")',
  permission_denied: 'the application link does not allow user impersonation, or the impersonated user may not log in',
  user_refused: 'Jira does not know the impersonated user, or the user is inactive',
};

/** Jira's 401 to a signed request: its oauth_problem (and Seraph's reason) go to the log, the client gets 502. */
export function oauthRejection(status: number, rawHeaders: string[], username: string): SidecarError | undefined {
  if (status !== 401) return undefined;
  let challenge = '';
  let seraph = '';
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const n = rawHeaders[i]!.toLowerCase();
    if (n === 'www-authenticate' && /^\s*oauth\b/i.test(rawHeaders[i + 1]!)) challenge = rawHeaders[i + 1]!;
    if (n === 'x-seraph-loginreason') seraph = rawHeaders[i + 1]!;
  }
  const c = parseOAuthChallenge(challenge);
  // Jira's words, but a log field and a rule name: only the RFC-style token shape is kept.
  const problem = c.oauth_problem === undefined ? 'none' : /^[a-z_]{1,64}$/.test(c.oauth_problem) ? c.oauth_problem : 'unrecognised';
  const parts = [`Jira answered 401 to the OAuth 1.0a request for "${username}": oauth_problem=${problem}`];
  if (c.oauth_problem_advice) parts.push(`advice: ${c.oauth_problem_advice}`);
  if (c.oauth_acceptable_timestamps) parts.push(`acceptable timestamps: ${c.oauth_acceptable_timestamps}`);
  if (seraph) parts.push(`X-Seraph-LoginReason: ${seraph}`);
  if (HINTS[problem]) parts.push(HINTS[problem]!);
  return new SidecarError('upstream_rejected_identity', { rule: `oauth1:${problem}`, detail: parts.join('; ').slice(0, 1000) });
}

/**
 * Signs the forwarded request as the checked user. The client's query keeps its bytes; reserved
 * parameters are dropped and our requestor id appended. A form body is read (bounded) to be signed
 * and sent as read; any other body streams untouched (it is not covered by RFC 5849's signature).
 */
export async function planOAuth1(st: RequestState, target: ForwardTarget, s: OAuth1Settings, clock: Clock): Promise<IdentityPlan> {
  const username = st.identity!.username;
  const q = target.path.indexOf('?');
  const rawPath = q < 0 ? target.path : target.path.slice(0, q);
  const query = stripReserved(q < 0 ? '' : target.path.slice(q + 1)).kept;
  const finalQuery = `${query ? `${query}&` : ''}${REQUESTOR}=${oauthEncode(username)}`;

  let body: Buffer | undefined;
  let bodyParams: ReturnType<typeof parseFormParams> = [];
  const headers: Array<[string, string]> = [];
  const req = target.req;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && isFormBody(req) && !req.readableEnded) {
    const raw = await readBounded(req, s.maxFormBodyBytes);
    // latin1 keeps every byte as one char, so stripping and re-joining never re-encodes anything.
    const stripped = stripReserved(raw.toString('latin1'));
    body = stripped.removed > 0 ? Buffer.from(stripped.kept, 'latin1') : raw;
    bodyParams = parseFormParams(body.toString('latin1'));
    if (req.headers['content-length'] === undefined) headers.push(['Content-Length', String(body.length)]);
  }

  const queryParams = parseFormParams(finalQuery);
  // One signature per attempt: the same request sent again (stale keep-alive retry) needs a fresh
  // nonce and timestamp, or Jira refuses it as a replay (RFC 5849 §3.3). Everything else signed
  // (method, URI, parameters, body) is the same, so it is computed once above.
  const signedHeaders = async (): Promise<Array<[string, string]>> => {
    const signed = await signRequest({
      method: target.method,
      origin: s.origin,
      rawPath,
      queryParams,
      bodyParams,
      consumerKey: s.consumerKey,
      privateKey: s.privateKey,
      timestamp: Math.floor(clock.now() / 1000),
      nonce: randomBytes(16).toString('hex'),
      sendEmptyToken: s.sendEmptyToken,
    });
    return [...headers, ['Authorization', signed.authorization]];
  };
  return {
    headers: await signedHeaders(),
    body,
    path: `${rawPath}?${finalQuery}`,
    checkResponse: (status, rawHeaders) => oauthRejection(status, rawHeaders, username),
    reattempt: signedHeaders,
  };
}

/** The oauth1-impersonation IdentityForwarder for one policy's settings. */
export function oauth1Forwarder(settings: OAuth1Settings, clock: Clock): IdentityForwarder {
  return (st, target) => planOAuth1(st, target, settings, clock);
}

