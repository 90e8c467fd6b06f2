// Reading the audit log for the API: filtered keyset pages of request rows (GET /api/audit) and of
// admin actions (GET /api/admin-activity), mapped from the store's records to what the API shows
// (ISO times, parsed before/after, opaque cursors). Every replica's rows, in (time, replica, id) order.
import type { AuditRecord } from '../pipeline/audit/sink.js';
import type { AdminAuditRow, AuditFilters, AuditRow, AuditStore } from '../store/audit-store.js';
import { decodeCursor, encodeCursor } from './filters.js';

/** One audit row as the API and exports show it: the AuditRecord with its id, ISO time, chain hashes and replica. */
export type AuditEntry = Omit<AuditRecord, 'time'> & { id: number; time: string; prevHash: string; rowHash: string; replica: string };

/** API field -> export column, in export order (the stored columns, then the replica: positional readers keep working). */
export const ENTRY_FIELDS: ReadonlyArray<[keyof AuditEntry, string]> = [
  ['id', 'id'], ['time', 'time'], ['requestId', 'request_id'], ['decision', 'decision'], ['reason', 'reason'], ['status', 'status'],
  ['method', 'method'], ['path', 'path'], ['clientIp', 'client_ip'], ['user', 'user'], ['credentialKind', 'credential_kind'],
  ['tokenId', 'token_id'], ['clientId', 'client_id'], ['issuer', 'issuer'], ['latencyMs', 'latency_ms'],
  ['upstreamStatus', 'upstream_status'], ['route', 'route'], ['stage', 'stage'], ['rule', 'rule'], ['prevHash', 'prev_hash'], ['rowHash', 'row_hash'],
  ['replica', 'replica'],
  // 0.7: after the replica, so positional readers of older exports keep working.
  ['wouldDeny', 'would_deny'], ['userAgent', 'user_agent'], ['facts', 'facts'],
];

export function toEntry(r: AuditRow): AuditEntry {
  const e = {} as Record<string, unknown>;
  for (const [k] of ENTRY_FIELDS) e[k] = r[k as keyof AuditRow] ?? null;
  e.time = new Date(r.time).toISOString();
  return e as unknown as AuditEntry;
}

/**
 * One admin action as the admin API shows it (admin/wire.ts AdminAuditEntry, which the admin edge
 * checks this against: wire.ts stays import-free for the browser build, and audit/ never imports admin/).
 */
export interface AdminEntry {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  rowHash: string;
  replica: string;
}

export interface Page {
  limit?: number;
  /** Opaque value from a previous page's nextCursor. */
  cursor?: string;
}

export interface AuditPage<T = AuditEntry> {
  items: T[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export const MAX_PAGE = 1000;

const limitOf = (page: Page, fallback: number) => Math.min(MAX_PAGE, Math.max(1, Math.trunc(page.limit ?? fallback)));

/** One page and whether there is a next: the store is asked for one row more than the page holds. */
async function keysetPage<R extends { time: number; replica: string; id: number }, T>(
  page: Page,
  fetch: (limit: number, after: ReturnType<typeof decodeCursor> | undefined) => Promise<R[]>,
  map: (r: R) => T,
): Promise<AuditPage<T>> {
  const limit = limitOf(page, 100);
  const rows = await fetch(limit + 1, page.cursor ? decodeCursor(page.cursor) : undefined);
  const last = rows[limit - 1];
  return { items: rows.slice(0, limit).map(map), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

/** Request rows, newest first, keyset-paged: page N costs the same as page 1. */
export function queryAudit(store: AuditStore, filters: AuditFilters, page: Page = {}): Promise<AuditPage> {
  return keysetPage(page, (limit, after) => store.page(filters, { limit, after }), toEntry);
}

const parseJson = (v: string | null) => (v === null ? null : (JSON.parse(v) as unknown));

export function toAdminEntry(r: AdminAuditRow): AdminEntry {
  return {
    id: r.id,
    time: new Date(r.time).toISOString(),
    actor: r.actor,
    action: r.action,
    target: r.target ?? null,
    before: parseJson(r.beforeJson),
    after: parseJson(r.afterJson),
    rowHash: r.rowHash,
    replica: r.replica,
  };
}

/** Admin actions, newest first, keyset-paged. */
export function queryAdmin(store: AuditStore, page: Page = {}): Promise<AuditPage<AdminEntry>> {
  return keysetPage(page, (limit, after) => store.adminPage({ limit, after }), toAdminEntry);
}
