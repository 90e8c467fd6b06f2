// The audit hash chain on SQLite: the head a writer links onto, and the walk `audit verify` does.
// The chain's format (hashing, columns, GENESIS) is in audit/chain.ts, shared with PostgreSQL.
// SQLite holds one replica's chains: the tables have no replica column, the store names it.
import { ADMIN_COLUMNS, ChainWalk, GENESIS, REQUEST_COLUMNS, type ChainRow } from '../../audit/chain.js';
import type { ChainHead, ChainId, ChainKind, ChainReport } from '../audit-store.js';
import type { Db } from './db.js';

export const CHAINS: Record<ChainKind, { table: string; columns: readonly string[] }> = {
  request: { table: 'audit_log', columns: REQUEST_COLUMNS },
  admin: { table: 'admin_audit', columns: ADMIN_COLUMNS },
};

/**
 * The last link of a chain: its newest row, else the retention anchor, else genesis (id 0). The
 * statements are prepared once (a writer reads the head every batch; a prepare costs ~25 µs).
 */
export function chainHeadReader(db: Db, chain: ChainKind): () => ChainHead {
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

/**
 * Walks one chain in id order inside a read transaction (a consistent snapshot in WAL mode, so a
 * sidecar writing and pruning at the same time does not produce false breaks).
 * onProgress is called every 10,000 rows.
 */
export function verifyChain(db: Db, chain: ChainId, onProgress?: (checked: number) => void): ChainReport {
  const { table, columns } = CHAINS[chain.kind];
  const run = db.transaction((): ChainReport => {
    const anchor = db.prepare('SELECT last_id, last_hash FROM audit_anchor WHERE chain = ?').get(chain.kind) as { last_id: number; last_hash: string } | undefined;
    const walk = new ChainWalk(chain, anchor && { id: anchor.last_id, hash: anchor.last_hash }, columns, onProgress);
    for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY id`).iterate() as IterableIterator<ChainRow>) {
      const broken = walk.step(row);
      if (broken) return broken;
    }
    return walk.done();
  });
  return run.deferred();
}
