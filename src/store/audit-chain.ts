// The audit hash chain: row_hash = SHA-256(prev_hash || canonical row JSON), where the canonical
// JSON is the array of the row's columns in the fixed order below (an array has no key-order
// ambiguity; the id is included so renumbering is detected too). The first row of a chain links to
// GENESIS, or to the anchor left by retention (audit_anchor). `audit verify` walks it here.
//
// What it proves: an edited, deleted or inserted row breaks the link at that row, unless the
// attacker rewrites every later row too. Keep the head hash that `audit verify` prints somewhere
// else (a ticket, a SIEM) to detect that as well.
import { hash } from 'node:crypto';
import type { Db } from './sqlite/db.js';

export const GENESIS = '0'.repeat(64);

export type ChainName = 'request' | 'admin';

/** Columns hashed, in order (snake_case as stored). */
export const REQUEST_COLUMNS = [
  'id', 'time', 'request_id', 'decision', 'reason', 'status', 'method', 'path', 'client_ip', 'user', 'credential_kind',
  'token_id', 'client_id', 'issuer', 'latency_ms', 'upstream_status', 'route', 'stage', 'rule',
] as const;
export const ADMIN_COLUMNS = ['id', 'time', 'actor', 'action', 'target', 'before_json', 'after_json'] as const;

export const CHAINS: Record<ChainName, { table: string; columns: readonly string[] }> = {
  request: { table: 'audit_log', columns: REQUEST_COLUMNS },
  admin: { table: 'admin_audit', columns: ADMIN_COLUMNS },
};

export type ChainRow = Record<string, string | number | null>;

/** SHA-256(prev_hash || JSON.stringify([col1, col2, ...])) as lower-case hex. */
export function hashRow(prevHash: string, row: ChainRow, columns: readonly string[]): string {
  return hashValues(prevHash, columns.map((c) => row[c] ?? null));
}

/** hashRow for a row already laid out as its column values in chain order. */
export function hashValues(prevHash: string, values: ReadonlyArray<string | number | null>): string {
  return hashCanonical(prevHash, JSON.stringify(values));
}

/** hashRow for a row whose canonical JSON is already at hand. */
export function hashCanonical(prevHash: string, rowJson: string): string {
  // One-shot hash of the concatenation: the same digest as update(prev).update(json), half the cost.
  return hash('sha256', prevHash + rowJson, 'hex');
}

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
