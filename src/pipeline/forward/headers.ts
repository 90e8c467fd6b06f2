// Builds the header list Jira receives (pure). Hop-by-hop fields are dropped per RFC 9110 §7.6.1,
// including every name listed in Connection; identity / shared-secret / strip-list headers are
// dropped in every spelling (case, "_" vs "-", duplicates) on EVERY forwarded request.
import { perPolicy } from '../../config/policy.js';
import type { RequestState } from '../state.js';

/** "X_Forwarded_User" and "x-forwarded-user" name the same header to many servers (CGI, nginx underscores_in_headers). */
export const normalizeHeaderName = (name: string) => normalizeLower(name.toLowerCase());
const normalizeLower = (lower: string) => (lower.includes('_') ? lower.replace(/_/g, '-') : lower);

const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'expect',
  'host',
  'http2-settings',
]);

const NONE: ReadonlySet<string> = new Set();

const isConnection = (name: string) => name.length === 10 && name.toLowerCase() === 'connection';

/**
 * The sets of the few Connection values seen over and over ("keep-alive", "close"), by value:
 * read-only, shared, bounded (never a long value).
 */
const listedByValue = new Map<string, ReadonlySet<string>>();

function addListed(out: Set<string>, value: string): void {
  for (const t of value.split(',')) {
    const n = t.trim();
    if (n) out.add(normalizeHeaderName(n));
  }
}

/** Names listed in Connection headers (RFC 9110 §7.6.1), normalized. */
export function connectionListed(rawHeaders: string[]): ReadonlySet<string> {
  let i = 0;
  // Most requests carry no Connection header (HTTP/1.1 keep-alive is the default).
  while (i < rawHeaders.length && !isConnection(rawHeaders[i]!)) i += 2;
  if (i >= rawHeaders.length) return NONE;
  let j = i + 2;
  while (j < rawHeaders.length && !isConnection(rawHeaders[j]!)) j += 2;
  if (j >= rawHeaders.length) {
    // One Connection header (responses often say "keep-alive"): its set is kept by value.
    const value = rawHeaders[i + 1]!;
    let s = listedByValue.get(value);
    if (!s) {
      const out = new Set<string>();
      addListed(out, value);
      s = out;
      if (value.length <= 64) {
        if (listedByValue.size >= 32) listedByValue.clear();
        listedByValue.set(value, s);
      }
    }
    return s;
  }
  const out = new Set<string>();
  for (; i < rawHeaders.length; i += 2) if (isConnection(rawHeaders[i]!)) addListed(out, rawHeaders[i + 1]!);
  return out;
}

/** Headers never accepted from a client: identity, shared secret, configured strip list. */
export function spoofableHeaders(cfg: { identityHeader: string; sharedSecretHeader: string; stripHeaders: readonly string[] }): Set<string> {
  return new Set([cfg.identityHeader, cfg.sharedSecretHeader, ...cfg.stripHeaders].map(normalizeHeaderName));
}
const spoofableOf = perPolicy((c) => spoofableHeaders(c.upstream));

const JIRA_SESSION_COOKIES = /^(JSESSIONID|seraph\.rememberme\.cookie|atlassian\.xsrf\.token|crowd\.token_key)$/i;

/** Cookie header without Jira's session cookies (so Jira cannot act as another user than the checked one). */
export function dropSessionCookies(cookie: string): string {
  return cookie
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c && !JIRA_SESSION_COOKIES.test(c.split('=')[0]!.trim()))
    .join('; ');
}

export interface UpstreamHeaderInput {
  state: RequestState;
  /** Host of the upstream (for Host). */
  upstreamHost: string;
  /** Protocol the client used to reach the sidecar. */
  proto: 'http' | 'https';
  /**
   * Extra headers the identity forwarder adds (identity header + shared secret, or an OAuth 1.0a
   * Authorization, or a mapped credential). When set, the client's Authorization and Jira session
   * cookies are removed.
   */
  identityHeaders?: Array<[string, string]>;
}

/** Returns a flat raw header array for http.request (keeps duplicates and order). */
export function buildUpstreamHeaders(input: UpstreamHeaderInput): string[] {
  const { state, upstreamHost, proto, identityHeaders } = input;
  const raw = state.facts.rawHeaders;
  const listed = connectionListed(raw);
  const spoofable = spoofableOf(state.policy);
  const replacing = identityHeaders !== undefined;
  const out: string[] = [];
  let xff: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    const norm = normalizeLower(lower);
    if (lower === 'host') host = value;
    if (HOP_BY_HOP.has(norm) || (norm !== lower && HOP_BY_HOP.has(lower)) || listed.has(norm) || spoofable.has(norm)) continue;
    if (norm === 'x-forwarded-for') {
      xff = xff === undefined ? value : `${xff}, ${value}`;
      continue;
    }
    if (norm === 'x-forwarded-proto' || norm === 'x-forwarded-host' || norm === 'x-request-id') continue;
    // Tracing on: Jira gets this request's span as its parent (the caller's context, when trusted, is its parent).
    if (state.traceparent !== undefined && norm === 'traceparent') continue;
    if (replacing && lower === 'authorization') continue;
    if (replacing && lower === 'cookie') {
      const kept = dropSessionCookies(value);
      if (kept) out.push(name, kept);
      continue;
    }
    out.push(name, value);
  }
  const peer = state.facts.peerIp.startsWith('::ffff:') ? state.facts.peerIp.slice(7) : state.facts.peerIp;
  out.push('Host', upstreamHost);
  out.push('X-Forwarded-For', xff ? `${xff}, ${peer}` : peer);
  out.push('X-Forwarded-Proto', proto);
  if (host) out.push('X-Forwarded-Host', host);
  out.push('X-Request-Id', state.requestId);
  if (state.traceparent !== undefined) out.push('traceparent', state.traceparent);
  // Last, so a retry can swap exactly this tail for headers built for its attempt (middleware.ts).
  if (identityHeaders) for (const [k, v] of identityHeaders) out.push(k, v);
  return out;
}

const RESPONSE_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/** Upstream response headers minus hop-by-hop ones (incl. those its Connection lists). */
export function filterResponseHeaders(rawHeaders: string[]): Array<[string, string]> {
  const listed = connectionListed(rawHeaders);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (RESPONSE_HOP.has(lower) || listed.has(normalizeLower(lower))) continue;
    out.push([name, rawHeaders[i + 1]!]);
  }
  return out;
}

/**
 * The response head relayed to the client as one flat name/value list (duplicates such as several
 * Set-Cookie kept, in order): Jira's headers minus hop-by-hop ones, then `own` (X-Request-Id,
 * RateLimit-*), which replaces Jira's copies of the same names.
 */
export function responseHeaderList(rawHeaders: string[], own: readonly string[]): string[] {
  const listed = connectionListed(rawHeaders);
  const ownNames: string[] = [];
  for (let i = 0; i < own.length; i += 2) ownNames.push(own[i]!.toLowerCase());
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (RESPONSE_HOP.has(lower) || ownNames.includes(lower) || (listed !== NONE && listed.has(normalizeLower(lower)))) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  for (let i = 0; i < own.length; i++) out.push(own[i]!);
  return out;
}
