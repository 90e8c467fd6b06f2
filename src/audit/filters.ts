// What a caller asks the audit log for: query-string filters parsed into the store's AuditFilters,
// and the opaque cursors that carry a keyset position (time, replica, id) between pages.
import type { AuditFilters, AuditPosition } from '../store/audit-store.js';
import type { CredentialKind } from '../pipeline/state.js';
import ipaddr from 'ipaddr.js';

export class AuditFilterError extends Error {
  /** Every bad field (the first is `field`); one entry unless parseAuditFilters found several. */
  readonly problems: Array<{ field: string; message: string }>;
  constructor(
    readonly field: string,
    message: string,
    more: Array<{ field: string; message: string }> = [],
  ) {
    super(`${field}: ${message}`);
    this.problems = [{ field, message }, ...more];
  }
}

const DECISIONS = new Set(['allow', 'deny', 'passthrough', 'error']);
/** Every credential kind the pipeline records (a Record, so the compiler keeps it in step with CredentialKind). */
const CREDENTIAL_KINDS: Readonly<Record<CredentialKind, true>> = {
  jwt: true,
  'api-token': true,
  'jira-pat': true,
  'opaque-bearer': true,
  basic: true,
  oauth1: true,
  session: true,
  anonymous: true,
};
const CREDENTIAL_KIND_LIST = Object.keys(CREDENTIAL_KINDS).join(', ');
/** An error code (errors.ts): what would_deny holds. */
const ERROR_CODE = /^[a-z_]{1,64}$/;

function parseTime(field: string, v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new AuditFilterError(field, 'use an ISO 8601 time (2026-01-31T00:00:00Z) or ms since the epoch');
  return n;
}

/**
 * Query-string values -> AuditFilters; throws AuditFilterError naming the bad field.
 * `{from: "2026-01-01", status: "4xx", path: "/rest/api/2/"}` -> `{from: 1767225600000, statusClass: 4, path: "/rest/api/2/"}`
 * `{credentialKind: "basic", wouldDeny: "any"}` -> the same (any: rows with a would_deny code at all)
 */
export function parseAuditFilters(q: Record<string, string | string[] | undefined>): AuditFilters {
  const one = (k: string) => {
    const v = q[k];
    const s = Array.isArray(v) ? v[0] : v;
    return s === undefined || s === '' ? undefined : s;
  };
  const f: AuditFilters = {};
  // Every bad field is reported at once (the admin UI names each beside its input).
  const problems: Array<{ field: string; message: string }> = [];
  const check = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof AuditFilterError)) throw e;
      problems.push(...e.problems);
    }
  };
  const from = one('from');
  const to = one('to');
  if (from) check(() => (f.from = parseTime('from', from)));
  if (to) check(() => (f.to = parseTime('to', to)));
  for (const k of ['user', 'client', 'token', 'ip', 'path', 'replica'] as const) {
    const v = one(k);
    if (v !== undefined) f[k] = v.slice(0, 2048);
  }
  // The store matches one client address exactly: a range or anything else would silently match nothing.
  if (f.ip !== undefined && !ipaddr.isValid(f.ip)) {
    problems.push({ field: 'ip', message: f.ip.includes('/') ? 'one IP address (10.0.0.5 or 2001:db8::1); address ranges (CIDR) are not supported here' : 'not an IP address (use one like 10.0.0.5 or 2001:db8::1)' });
    delete f.ip;
  }
  const decision = one('decision');
  if (decision) {
    if (!DECISIONS.has(decision)) problems.push({ field: 'decision', message: 'one of allow, deny, passthrough, error' });
    else f.decision = decision as AuditFilters['decision'];
  }
  const status = one('status');
  if (status) {
    if (/^[1-5]xx$/i.test(status)) f.statusClass = Number(status[0]);
    else if (/^[1-5]\d\d$/.test(status)) f.status = Number(status);
    else problems.push({ field: 'status', message: 'an HTTP status (403) or a class (4xx)' });
  }
  const credentialKind = one('credentialKind');
  if (credentialKind) {
    if (!Object.hasOwn(CREDENTIAL_KINDS, credentialKind)) problems.push({ field: 'credentialKind', message: `one of ${CREDENTIAL_KIND_LIST}` });
    else f.credentialKind = credentialKind;
  }
  // `any`: every row a report-mode rule would have refused; else one error code, exactly.
  const wouldDeny = one('wouldDeny');
  if (wouldDeny) {
    if (!ERROR_CODE.test(wouldDeny)) problems.push({ field: 'wouldDeny', message: 'an error code (read_only) or "any"' });
    else f.wouldDeny = wouldDeny;
  }
  if (f.path !== undefined && !f.path.startsWith('/')) problems.push({ field: 'path', message: 'a path prefix starting with "/"' });
  if (f.from !== undefined && f.to !== undefined && f.from > f.to) problems.push({ field: 'to', message: 'a time after "from"' });
  const [first, ...more] = problems;
  if (first) throw new AuditFilterError(first.field, first.message, more);
  return f;
}

// A JSON array rather than "time:id": replica names hold colons ("host:8090").
export const encodeCursor = (p: AuditPosition): string => Buffer.from(JSON.stringify([p.time, p.replica, p.id])).toString('base64url');

/** The position a cursor carries; AuditFilterError('cursor') for anything this API did not hand out. */
export function decodeCursor(c: string): AuditPosition {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(c, 'base64url').toString());
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 3 || !Number.isSafeInteger(v[0]) || typeof v[1] !== 'string' || !Number.isSafeInteger(v[2]) || v[2] < 0) {
    throw new AuditFilterError('cursor', 'not a cursor returned by this API');
  }
  return { time: v[0] as number, replica: v[1], id: v[2] as number };
}
