// The audit hash chain on SQLite: the head a writer links onto, and the walk `audit verify` does.
// The chain's format (hashing, columns, GENESIS) is in audit/chain.ts, shared with PostgreSQL.
import { ADMIN_COLUMNS, GENESIS, hashRow, REQUEST_COLUMNS, type ChainRow } from '../audit/chain.js';
export { ADMIN_COLUMNS, GENESIS, hashCanonical, hashRow, hashValues, REQUEST_COLUMNS, type ChainRow } from '../audit/chain.js';
import type { Db } from './sqlite/db.js';

export type ChainName = 'request' | 'admin';

export const CHAINS: Record<ChainName, { table: string; columns: readonly string[] }> = {
  request: { table: 'audit_log', columns: REQUEST_COLUMNS },
  admin: { table: 'admin_audit', columns: ADMIN_COLUMNS },
};

export interface ChainHead {
  id: number;
  hash: string;
}

/** The last link of a chain: its newest row, else the retention anchor, else genesis (id 0). */
export function chainHead(db: Db, chain: ChainName): ChainHead {
  return chainHeadReader(db, chain)();
}

/** chainHead with its statements prepared once (a writer reads the head every batch; a prepare costs ~25 µs). */
export function chainHeadReader(db: Db, chain: ChainName): () => ChainHead {
  const { table } = CHAINS[chain];
  const lastRow = db.prepare(`SELECT id, row_hash FROM ${table} ORDER BY id DESC LIMIT 1`);
  const anchorRow = db.prepare('SELECT last_id, last_hash FROM audit_anchor WHERE chain = ?');
  return () => {
    const last = lastRow.get() as { id: number; row_hash: string } | undefined;
    if (last) return { id: last.id, hash: last.row_hash };
    const anchor = anchorRow.get(chain) as { last_id: number; last_hash: string } | undefined;
    return anchor ? { id: anchor.last_id, hash: anchor.last_hash } : { id: 0, hash: GENESIS };
  };
}

export interface ChainBreak {
  /** The first row whose link does not hold. */
  id: number;
  problem: 'edited' | 'missing_before' | 'prev_hash_mismatch';
  detail: string;
}

export interface ChainReport {
  chain: ChainName;
  ok: boolean;
  /** Rows checked (up to and including the break). */
  count: number;
  /** Id the chain starts after (retention anchor) and the head hash when ok. */
  anchorId: number;
  headId: number;
  headHash: string;
  break?: ChainBreak;
}

/**
 * Walks one chain in id order inside a read transaction (a consistent snapshot in WAL mode, so a
 * sidecar writing and pruning at the same time does not produce false breaks).
 * onProgress is called every 10,000 rows.
 */
export function verifyChain(db: Db, chain: ChainName, onProgress?: (checked: number) => void): ChainReport {
  const { table, columns } = CHAINS[chain];
  const run = db.transaction((): ChainReport => {
    const anchor = db.prepare('SELECT last_id, last_hash FROM audit_anchor WHERE chain = ?').get(chain) as { last_id: number; last_hash: string } | undefined;
    let prevId = anchor?.last_id ?? 0;
    let prevHash = anchor?.last_hash ?? GENESIS;
    const anchorId = prevId;
    let count = 0;
    for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY id`).iterate() as IterableIterator<ChainRow>) {
      count++;
      const id = row.id as number;
      const fail = (problem: ChainBreak['problem'], detail: string): ChainReport => ({
        chain, ok: false, count, anchorId, headId: prevId, headHash: prevHash, break: { id, problem, detail },
      });
      if (row.prev_hash !== prevHash) {
        return id !== prevId + 1
          ? fail('missing_before', `row ${id} follows row ${prevId}: ${id - prevId - 1} row(s) missing or the chain was re-linked`)
          : fail('prev_hash_mismatch', `row ${id} does not link to row ${prevId} (row inserted, removed or re-linked)`);
      }
      if (id !== prevId + 1) return fail('missing_before', `row ${id} follows row ${prevId}: ids must be consecutive`);
      const expect = hashRow(prevHash, row, columns);
      if (row.row_hash !== expect) return fail('edited', `row ${id} does not match its hash (contents changed)`);
      prevId = id;
      prevHash = row.row_hash as string;
      if (onProgress && count % 10_000 === 0) onProgress(count);
    }
    return { chain, ok: true, count, anchorId, headId: prevId, headHash: prevHash };
  });
  return run.deferred();
}
