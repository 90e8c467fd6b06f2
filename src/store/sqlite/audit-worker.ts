// The audit worker (worker_threads): writes batches of request audit rows, with the hash chain, on
// its own SQLite connection, so each batch's transaction (inserts, indexes, hashing, now and then
// the user-index fill) runs off the event loop that serves requests. The main side (the queued sink,
// audit/sink.ts, through WorkerWriter in audit.ts) keeps the queue, the retry/backoff, the metrics
// and the logs: this file only writes what it is sent and says how it went, one reply per batch.
// Admin rows (the other chain) stay on the main connection. Under server.workers > 1 each worker
// process has its own audit thread appending to the one request chain (the head is read after
// BEGIN IMMEDIATE took the write lock: audit-writer.ts).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { AuditWriteError } from '../audit-store.js';
import { requestChainWriter, toWriteError, writerPragmas } from './audit-writer.js';
import { ROWS_SEPARATOR } from '../../audit/encode.js';

export interface AuditWorkerData {
  /** The database file (the main connection's). */
  file: string;
  /** The main connection's busy_timeout: how long one attempt waits for another writer's lock. */
  busyTimeoutMs: number;
}

/** main -> worker: one batch, written in one transaction. */
export interface AuditBatchMessage {
  seq: number;
  /**
   * The batch's encoded rows (audit/encode.ts encodeRow) joined by "\n", which an encoded row never
   * holds (JSON escapes it): one string crosses the thread boundary, one copy. An array of 100 rows
   * cost the event loop 77–105 µs per postMessage (the structured clone walks it string by string),
   * the joined text 18–20 (ROWS_SEPARATOR).
   */
  rows: string;
  /** audit.indexBatchRows (read per batch, so a config reload applies). */
  indexBatchRows: number;
}

/** worker -> main: written is rows.length on success, else 0 with the error (nothing written). */
export interface AuditBatchReply {
  seq: number;
  written: number;
  error?: AuditWriteError;
}

if (parentPort) {
  const port = parentPort;
  const { file, busyTimeoutMs } = workerData as AuditWorkerData;
  let write: ReturnType<typeof requestChainWriter> | undefined;
  const open = () => {
    // Migrations ran on the main connection before the worker started; WAL is a property of the file.
    const db = new Database(file);
    try {
      writerPragmas(db, busyTimeoutMs); // WAL, checkpoint interval, page cache (audit-writer.ts)
      return requestChainWriter(db);
    } catch (e) {
      db.close();
      throw e;
    }
  };
  port.on('message', (m: AuditBatchMessage) => {
    let reply: AuditBatchReply;
    try {
      write ??= open(); // opened on the first batch; an open that failed is tried again on the next
      const rows = m.rows ? m.rows.split(ROWS_SEPARATOR) : [];
      write(rows, m.indexBatchRows);
      reply = { seq: m.seq, written: rows.length };
    } catch (e) {
      reply = { seq: m.seq, written: 0, error: toWriteError(e) };
    }
    port.postMessage(reply);
  });
}
