// Writing request audit rows on SQLite: one transaction per batch, each row chained onto the
// previous one. Shared by the inline writer (main thread, audit.ts) and the audit worker
// (audit-worker.ts), so both produce byte-identical rows and hashes. Imports nothing but
// better-sqlite3's types, the chain and the deferred indexes (the worker loads this file alone).
import type { Db } from './db.js';
import type { AuditWriteError } from '../audit-store.js';
import { chainHeadReader } from './audit-chain.js';
import { hashCanonical } from '../../audit/chain.js';
import { ENCODED_COLUMNS, padEncoded, rowJson } from '../../audit/encode.js';
import { deferredIndexFiller } from './audit-index.js';

const errCode = (e: unknown) => String((e as { code?: unknown })?.code ?? '');

export function writeErrorKind(e: unknown): AuditWriteError['kind'] {
  const code = errCode(e);
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return 'busy';
  if (/^SQLITE_FULL/.test(code) || code === 'ENOSPC') return 'storage_full';
  return 'write_failed';
}

export const toWriteError = (e: unknown): AuditWriteError => ({ kind: writeErrorKind(e), code: errCode(e), message: String((e as Error)?.message ?? e) });

/** The audit writer's WAL checkpoint interval, in bytes of WAL (see writerPragmas). */
export const WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024;

/**
 * The audit writer connection's settings (the worker's, and the in-process benchmark's).
 * - Checkpoint (copy the WAL back into the database file) every ~40 MB of WAL instead of SQLite's
 *   4 MB: audit rows land on many index pages (user, client, path ... each in its own place in its
 *   B-tree), and a page changed by several batches is then copied back once, not once per
 *   checkpoint. Measured on a 300k-row log with varied users/paths/IPs: 50 -> 36 µs of CPU per row.
 *   The interval is in pages, so it follows the file's page size (16 KiB for files made since 0.8,
 *   4 KiB before: db.ts NEW_DB_PAGE_SIZE).
 * - 16 MB of page cache (SQLite's default is 2 MB): the hot leaf pages of every index stay cached
 *   with a thousand active users; measured ~1-2 µs less CPU per row (fewer page reads).
 */
export function writerPragmas(db: Db, busyTimeoutMs: number): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
  const pageSize = Number(db.pragma('page_size', { simple: true })) || 4096;
  db.pragma(`wal_autocheckpoint = ${Math.round(WAL_CHECKPOINT_BYTES / pageSize)}`);
  db.pragma('cache_size = -16000');
}

/**
 * A function writing one batch of encoded rows (encodeRow) in one transaction (throws on failure,
 * nothing written). The same transaction fills the deferred indexes once `indexBatchRows`
 * (audit.indexBatchRows) rows are waiting for entries.
 */
export function requestChainWriter(db: Db): (rows: readonly string[], indexBatchRows: number) => void {
  // The id and the links last, so an encoded row's values bind as they are, followed by those three.
  const cols = [...ENCODED_COLUMNS, 'id', 'prev_hash', 'row_hash'];
  // Positional parameters: about 15 % cheaper per row than named (@col) binding. They are passed as
  // arguments (run(...values)), not as one array, whose elements better-sqlite3 reads one by one
  // through V8's API: 0.4 µs less per row (test/bench/writer-micro.ts, 11.1 against 10.6).
  const insert = db.prepare(`INSERT INTO audit_log (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
  // The head is read inside the transaction, so rows written by another writer (a second process
  // on the same data dir, a restore) are chained onto instead of forked from. IMMEDIATE takes the
  // write lock before that read: no other writer can slip a row in between read and insert.
  const head = chainHeadReader(db, 'request');
  const fillIndexes = deferredIndexFiller(db);
  const tx = db.transaction((rows: readonly string[], indexBatchRows: number) => {
    let { id, hash } = head();
    for (const encoded of rows) {
      const values = padEncoded(JSON.parse(encoded) as Array<string | number | null>);
      const rowHash = hashCanonical(hash, rowJson(++id, encoded));
      values.push(id, hash, rowHash);
      insert.run(...values);
      hash = rowHash;
    }
    fillIndexes(id, indexBatchRows);
  });
  return (rows, indexBatchRows) => tx.immediate(rows, indexBatchRows);
}
