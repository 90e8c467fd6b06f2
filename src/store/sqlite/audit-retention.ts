// Audit retention: deletes the oldest rows by age (retentionDays) and by count (maxEntries), a
// small batch per transaction with a yield to the event loop between batches, so requests and the
// sink's flushes interleave with a long prune. Only a prefix of a chain is ever deleted, and the
// anchor (id + hash of the last deleted row) moves in the same transaction, so `audit verify`
// still proves the remaining rows.
//
// Age is judged in chain order: the prune stops at the first row that is not expired. A row that
// was written after a younger one (a request that took longer than its successor) is therefore
// deleted on the next run, at most one request latency later than exactly on time.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Db } from './db.js';
import type { ChainKind, RetentionResult, RetentionSettings } from '../audit-store.js';
import { CHAINS } from './audit-chain.js';
import { DEFERRED_COLUMNS, entryDeleter } from './audit-index.js';

const DAY_MS = 86_400_000;

/** Deletes up to batchRows rows from the front of a chain, ids <= maxId and time < beforeTime. */
function pruneBatch(db: Db, chain: ChainKind, opts: PruneOptions): number {
  const { table } = CHAINS[chain];
  // Request rows also have entries in the deferred indexes (audit-index.ts): deleted with them.
  const deferred = chain === 'request' ? DEFERRED_COLUMNS : [];
  return db.transaction(() => {
    const rows = db
      .prepare(`SELECT ${['id', 'time', 'row_hash', ...deferred].join(', ')} FROM ${table} WHERE id <= ? ORDER BY id LIMIT ?`)
      .all(opts.maxId, opts.batchRows) as Array<{ id: number; time: number; row_hash: string }>;
    let expired = 0;
    while (expired < rows.length && rows[expired]!.time < opts.beforeTime) expired++;
    if (!expired) return 0;
    const first = rows[0]!;
    const last = rows[expired - 1]!;
    if (deferred.length) entryDeleter(db)(rows.slice(0, expired));
    const n = db.prepare(`DELETE FROM ${table} WHERE id BETWEEN ? AND ?`).run(first.id, last.id).changes;
    db.prepare(
      `INSERT INTO audit_anchor (chain, last_id, last_hash, last_time, deleted_total, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (chain) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash, last_time = excluded.last_time,
         deleted_total = deleted_total + excluded.deleted_total, updated_at = excluded.updated_at`,
    ).run(chain, last.id, last.row_hash, last.time, n, opts.now);
    return n;
  }).immediate();
}

interface PruneOptions {
  maxId: number;
  beforeTime: number;
  batchRows: number;
  now: number;
  signal?: AbortSignal;
}

async function prune(db: Db, chain: ChainKind, opts: PruneOptions): Promise<number> {
  let total = 0;
  for (;;) {
    if (opts.signal?.aborted) return total;
    const n = pruneBatch(db, chain, opts);
    total += n;
    if (n < opts.batchRows) return total;
    await yieldToLoop();
  }
}

/** One retention pass over both chains, judged at `s.now` (the caller's clock). */
export async function runRetention(db: Db, s: RetentionSettings): Promise<RetentionResult> {
  const batchRows = s.batchRows ?? 1000;
  const now = s.now;
  const cutoff = now - s.retentionDays * DAY_MS;
  const byAge = { maxId: Number.MAX_SAFE_INTEGER, beforeTime: cutoff, batchRows, now, signal: s.signal };
  const deletedByAge = (await prune(db, 'request', byAge)) + (await prune(db, 'admin', byAge));
  if (s.signal?.aborted) return { deletedByAge, deletedByCount: 0 };
  // Ids are consecutive (the writer assigns previous + 1), so the row count is max - min + 1.
  const span = db.prepare('SELECT MIN(id) AS lo, MAX(id) AS hi FROM audit_log').get() as { lo: number | null; hi: number | null };
  let deletedByCount = 0;
  if (span.hi !== null && span.lo !== null && span.hi - span.lo + 1 > s.maxEntries) {
    deletedByCount = await prune(db, 'request', { maxId: span.hi - s.maxEntries, beforeTime: Number.MAX_SAFE_INTEGER, batchRows, now, signal: s.signal });
  }
  return { deletedByAge, deletedByCount };
}
