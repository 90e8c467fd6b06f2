// The decision facts an audit row keeps so a candidate config can be replayed over recorded traffic
// without calling the IdP or Jira (issue 18): what the verified identity was (groups, service
// principal, token scope and lists), how the credential was classified, and the request facts the
// read-only rule reads (method override, content type, altered spelling). Compact JSON with short
// keys, empty fields left out; never a secret (no token, no password, no signature, no claim set).
import type { Identity, RequestState } from '../state.js';
import { findMethodOverride } from '../authorize/decide.js';

/** At most this many groups are kept per row (a longer list is marked truncated: gt). */
export const MAX_FACT_GROUPS = 64;
const MAX_TEXT = 128;

export interface RecordedFacts {
  /** Format version. */
  v: 1;
  /** Identity source (jwt | introspection | api-token), when the credential kind does not imply it (sourceOfRecorded). */
  is?: string;
  /** Identity groups (sorted, bounded), gt: truncated. */
  g?: string[];
  gt?: 1;
  /** Service principal (app-only token). */
  sp?: 1;
  /** API token scope: access, paths. */
  sa?: 'read' | 'write';
  sx?: string[];
  /** API token's own IP allow-list and rate limit [points, durationSec]. */
  ti?: string[];
  tl?: [number, number];
  /** The `credentials` setting that classified the credential when its kind does not imply it (ruleOfRecorded); Basic's scheme ("basic": the header). */
  cr?: string;
  cs?: string;
  /** Who the credential claims to be, unverified (Basic user name, "PAT <id>", "consumer <key>"). */
  cp?: string;
  /** The path needed dot-segment or ;parameter resolution (never earns a path exception). */
  alt?: 1;
  /** A method override header or parameter was present. */
  ov?: 1;
  /** Content-Type (media type, lower-case). */
  ct?: string;
  /** Every report-only refusal: [code, rule] (the would_deny column holds the first code). */
  wd?: Array<[string, string]>;
  /** Rate-limit cost the request was charged (rateLimit.costs), when not 1. */
  rc?: number;
}

const text = (s: string) => (s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s);

/**
 * What a credential kind implies, left out of the stored facts (most rows then store only their
 * groups): the `credentials` setting that classifies it and the source of the identity it proves.
 * An opaque bearer token is the one kind two settings classify (introspection or jiraOAuth2).
 */
const IMPLIED_RULE: Readonly<Record<string, string>> = { jwt: 'jwt', 'api-token': 'apiToken', 'jira-pat': 'jiraPat', oauth1: 'oauth1', session: 'session', anonymous: 'anonymous', basic: 'basic' };
const IMPLIED_SOURCE: Readonly<Record<string, Identity['source']>> = { jwt: 'jwt', 'api-token': 'api-token', 'opaque-bearer': 'introspection' };

/** The classifying rule of a recorded credential: stored, or implied by its kind. */
export const ruleOfRecorded = (kind: string | null, f: RecordedFacts): string | undefined => f.cr ?? (kind === null ? undefined : IMPLIED_RULE[kind]);
/** The source of a recorded identity: stored, or implied by the credential kind. */
export const sourceOfRecorded = (kind: string | null, f: RecordedFacts): Identity['source'] | undefined => (f.is as Identity['source'] | undefined) ?? (kind === null ? undefined : IMPLIED_SOURCE[kind]);

/** The facts of a request's final state (pure). */
export function recordedFacts(st: RequestState): RecordedFacts {
  const f: RecordedFacts = { v: 1 };
  const id = st.identity;
  const c = st.credential;
  if (id) {
    if (c === undefined || IMPLIED_SOURCE[c.kind] !== id.source) f.is = id.source;
    if (id.groups.length) {
      const g = id.groups.length === 1 ? id.groups : [...id.groups].sort();
      if (g.length > MAX_FACT_GROUPS) f.gt = 1;
      f.g = g.slice(0, MAX_FACT_GROUPS).map(text);
    }
    if (id.isServicePrincipal) f.sp = 1;
    if (id.scope) {
      f.sa = id.scope.access;
      if (id.scope.paths.length) f.sx = id.scope.paths;
    }
    if (id.ipAllowlist?.length) f.ti = id.ipAllowlist;
    if (id.rateLimit) f.tl = [id.rateLimit.points, id.rateLimit.durationSec];
  }
  if (c?.rule && IMPLIED_RULE[c.kind] !== c.rule) f.cr = c.rule;
  // Basic: in the Authorization header (cs "basic") or as os_username/os_password (no scheme).
  // An API token sent as a Basic password: cs "basic" too (it is refused where a Bearer one would pass through).
  if ((c?.kind === 'basic' || c?.kind === 'api-token') && c.scheme === 'basic') f.cs = c.scheme;
  if (c?.principal) f.cp = c.principal;
  if (st.pathAltered) f.alt = 1;
  if (st.route && st.route !== 'unprotected' && findMethodOverride(st.facts)) f.ov = 1;
  const ct = st.facts.headers['content-type'];
  if (typeof ct === 'string') f.ct = text(ct.split(';')[0]!.trim().toLowerCase());
  if (st.wouldDeny?.length) f.wd = st.wouldDeny.map((w) => [w.code, w.rule]);
  if (st.rateLimit?.cost !== undefined && st.rateLimit.cost !== 1) f.rc = st.rateLimit.cost;
  return f;
}

/** A stored facts column, parsed; undefined when absent or not ours (rows from before 0.7). */
export function parseFacts(json: string | null): RecordedFacts | undefined {
  if (!json) return undefined;
  try {
    const f = JSON.parse(json) as RecordedFacts;
    return f && typeof f === 'object' && f.v === 1 ? f : undefined;
  } catch {
    return undefined;
  }
}
