// Writing request audit rows: one transaction per batch, each row chained onto the previous one.
// Shared by the inline writer (main thread) and the audit worker (audit-worker.ts), so both produce
// byte-identical rows and hashes. Imports nothing but better-sqlite3's types and the chain.
import type { AuditRecord } from '../pipeline/audit/sink.js';
import type { Db } from './db.js';
import { REQUEST_COLUMNS, chainHead, hashValues, type ChainRow } from './audit-chain.js';
import { deferredIndexFiller } from './audit-index.js';

/**
 * A string as SQLite will give it back: lone UTF-16 surrogates (possible in JWT claims) become
 * U+FFFD when stored as UTF-8, so they are replaced before hashing or verify would see an edit.
 */
export const stored = (v: string | null): string | null => (v === null ? null : (v as string & { toWellFormed(): string }).toWellFormed());

/** AuditRecord -> the row as stored (snake_case columns, integers only so the hash is stable). */
export function toRow(r: AuditRecord, id: number): ChainRow {
  return {
    id,
    time: Math.trunc(r.time),
    request_id: stored(r.requestId),
    decision: stored(r.decision),
    reason: stored(r.reason),
    status: Math.trunc(r.status),
    method: stored(r.method),
    path: stored(r.path),
    client_ip: stored(r.clientIp),
    user: stored(r.user),
    credential_kind: stored(r.credentialKind),
    token_id: stored(r.tokenId),
    client_id: stored(r.clientId),
    issuer: stored(r.issuer),
    latency_ms: Math.max(0, Math.round(r.latencyMs)),
    upstream_status: r.upstreamStatus === null ? null : Math.trunc(r.upstreamStatus),
    route: stored(r.route),
    stage: stored(r.stage),
    rule: stored(r.rule),
  };
}

/** How a failed batch is handled: busy = wait and retry (not a failure); the others stop acceptance. */
export type WriteErrorKind = 'busy' | 'storage_full' | 'write_failed';

const errCode = (e: unknown) => String((e as { code?: unknown })?.code ?? '');

export function writeErrorKind(e: unknown): WriteErrorKind {
  const code = errCode(e);
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return 'busy';
  if (/^SQLITE_FULL/.test(code) || code === 'ENOSPC') return 'storage_full';
  return 'write_failed';
}

/** What a failed batch reports (plain data: it crosses the worker boundary). */
export interface WriteError {
  kind: WriteErrorKind;
  code: string;
  message: string;
}

export const toWriteError = (e: unknown): WriteError => ({ kind: writeErrorKind(e), code: errCode(e), message: String((e as Error)?.message ?? e) });

/**
 * A function writing one batch of records in one transaction (throws on failure, nothing written).
 * The same transaction fills the deferred indexes once `indexBatchRows` (audit.indexBatchRows) rows
 * are waiting for entries.
 */
export function requestChainWriter(db: Db): (records: AuditRecord[], indexBatchRows: number) => void {
  const cols = [...REQUEST_COLUMNS, 'prev_hash', 'row_hash'];
  // Positional parameters: binding an array is about 15 % cheaper per row than named (@col) binding.
  const insert = db.prepare(`INSERT INTO audit_log (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
  // The head is read inside the transaction, so rows written by another writer (a second process
  // on the same data dir, a restore) are chained onto instead of forked from. IMMEDIATE takes the
  // write lock before that read: no other writer can slip a row in between read and insert.
  const fillIndexes = deferredIndexFiller(db);
  const tx = db.transaction((records: AuditRecord[], indexBatchRows: number) => {
    let head = chainHead(db, 'request');
    for (const r of records) {
      const row = toRow(r, head.id + 1);
      const values = REQUEST_COLUMNS.map((c) => row[c] ?? null);
      const rowHash = hashValues(head.hash, values);
      values.push(head.hash, rowHash);
      insert.run(values);
      head = { id: row.id as number, hash: rowHash };
    }
    fillIndexes(head.id, indexBatchRows);
  });
  return (records, indexBatchRows) => tx.immediate(records, indexBatchRows);
}
