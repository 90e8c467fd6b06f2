// Deferred audit indexes (migration 0006): index tables the writer fills in sorted batches instead
// of SQLite indexes it updates row by row. A (user, time) index gets one entry per row on that
// user's own leaf page; with a thousand active callers each 100-row transaction changed ~100 pages,
// and every changed page is copied whole into the WAL. Filled every N rows in (user, time) order,
// each user's entries land together: measured 25 -> 15 µs of writer CPU per row, indexing included.
//
// Two tiers per index (migration 0014): once the log holds DIRECT_FILL_ROWS rows, the fills go into a
// small recent table, and a sweep moves its entries into the main table in key order, once per
// SWEEP_FILLS fills. A fill straight into the main table changed about one page per key it held,
// wherever that key's range lay in a table that grows with the log, so the writer's cost per row grew
// with the log (writer-micro, 100-row batches: 11 µs a row at 200,000 rows, 18-22 at 1 million, 31-35
// at 3 million, and 9 GB written for 1 million rows). Now a fill changes pages of a table that stays
// small, and each main-table page is changed about once per sweep: 14-15 µs a row at 1 million rows,
// 21.5 at 3 million, and 4.8 GB written for 1 million.
//
// Rows after a table's through_id have no entry yet; rows at or below it have exactly one, in one of
// the two tables. Queries read both tables and the newest rows from audit_log by rowid
// (audit-query.ts), so the results are the same as with an ordinary index, at once.
import type { Db } from './db.js';

export interface DeferredIndex {
  /** The main tier: (column, time, id) WITHOUT ROWID, primary key in that order. */
  table: string;
  /** The recent tier (migration 0014), the same shape: the writer's fills land here, a sweep moves them to `table`. */
  recent: string;
  /** The audit_log column it indexes (equality filters). */
  column: string;
}

/** Filter name -> its deferred index. */
export const DEFERRED_INDEXES = {
  user: { table: 'audit_by_user', recent: 'audit_by_user_recent', column: 'user' },
  // Migration 0007: paths, client addresses, API tokens and client apps scatter as users do in real traffic.
  ip: { table: 'audit_by_ip', recent: 'audit_by_ip_recent', column: 'client_ip' },
  path: { table: 'audit_by_path', recent: 'audit_by_path_recent', column: 'path' },
  token: { table: 'audit_by_token', recent: 'audit_by_token_recent', column: 'token_id' },
  client: { table: 'audit_by_client', recent: 'audit_by_client_recent', column: 'client_id' },
} as const satisfies Record<string, DeferredIndex>;

const INDEXES: readonly DeferredIndex[] = Object.values(DEFERRED_INDEXES);

/**
 * A sweep of an index's recent tier into its main tier starts once the recent tier holds entries of
 * this many fills (SWEEP_FILLS × audit.indexBatchRows rows). The main tier's pages are then changed
 * once per that many rows instead of once per fill; the recent tier stays small enough for the
 * writer's page cache.
 */
export const SWEEP_FILLS = 8;

/**
 * A sweep's chunk: audit.indexBatchRows entries (a fill's size), at least this many, so that with a
 * tiny indexBatchRows (a fill every batch, of every row since the last) the sweeps keep up with the fills.
 */
export const SWEEP_CHUNK_MIN = 1000;

/**
 * While the log holds fewer rows than this, a fill goes straight into the main table, as before
 * 0014: its tables are still small, and a detour through the recent table would write each entry
 * twice (writer-micro at 200,000 rows: about a tenth more writer CPU per row that way; at 1 million
 * a fifth less).
 */
export const DIRECT_FILL_ROWS = 500_000;

/** `(SELECT through_id ...)`: the last audit_log id the index has entries for, read in the statement itself. */
export const throughIdSql = (ix: DeferredIndex) => `(SELECT COALESCE(MAX(through_id), 0) FROM audit_index_state WHERE name = '${ix.table}')`;

/** An index key: (column value, time, id). */
type Key = [string, number, number];
/** Below every key: every column value is a non-null text, at least '' (the sweep's start). */
const LOWEST: Key = ['', -Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];

/**
 * Every index's state in one read (audit_index_state: each main table's through_id, each recent
 * table's swept mark; a missing row is 0), as a lookup by table name.
 */
function stateReader(db: Db): () => (table: string) => number {
  const all = db.prepare('SELECT name, through_id FROM audit_index_state').raw(true);
  return () => {
    const m = new Map(all.all() as Array<[string, number]>);
    return (table) => m.get(table) ?? 0;
  };
}

/** One index's statements: the fill of its entries for rows in (through, head] (sorted), the moves of its state, and a sweep's chunk. */
function indexStatements(db: Db, ix: DeferredIndex) {
  const c = ix.column;
  const key = `(${c}, time, id)`;
  const fillInto = (table: string) =>
    db.prepare(`INSERT OR IGNORE INTO ${table} (${c}, time, id) SELECT ${c}, time, id FROM audit_log WHERE id > ? AND id <= ? AND ${c} IS NOT NULL ORDER BY ${c}, time, id`);
  return {
    ix,
    // OR IGNORE: an entry already there (written by another process that shares the file) is not an error.
    fillRecent: fillInto(ix.recent),
    fillMain: fillInto(ix.table),
    mark: db.prepare('INSERT INTO audit_index_state (name, through_id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET through_id = excluded.through_id'),
    // MAX: two writers sharing the file may finish sweeps out of order.
    markSwept: db.prepare('INSERT INTO audit_index_state (name, through_id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET through_id = MAX(through_id, excluded.through_id)'),
    /** The last key of the next chunk (`chunk` entries after the cursor), if the recent tier has that many. */
    chunkEnd: db.prepare(`SELECT ${c}, time, id FROM ${ix.recent} WHERE ${key} > (?, ?, ?) ORDER BY ${c}, time, id LIMIT 1 OFFSET ?`).raw(true),
    /** The recent tier's last key: the end of a sweep's final chunk. */
    lastKey: db.prepare(`SELECT ${c}, time, id FROM ${ix.recent} ORDER BY ${c} DESC, time DESC, id DESC LIMIT 1`).raw(true),
    moveRange: db.prepare(`INSERT OR IGNORE INTO ${ix.table} (${c}, time, id) SELECT ${c}, time, id FROM ${ix.recent} WHERE ${key} > (?, ?, ?) AND ${key} <= (?, ?, ?) ORDER BY ${c}, time, id`),
    dropRange: db.prepare(`DELETE FROM ${ix.recent} WHERE ${key} > (?, ?, ?) AND ${key} <= (?, ?, ?)`),
  };
}
type IndexStatements = ReturnType<typeof indexStatements>;

/** The fill of one index's entries for rows in (through, headId], into its recent tier (or, `direct`, its main one). */
function fill(s: IndexStatements, through: number, headId: number, direct = false): void {
  (direct ? s.fillMain : s.fillRecent).run(through, headId);
  s.mark.run(s.ix.table, headId);
}

/** A sweep under way: where it is, in key order, and the through_id it started from. */
interface Sweep {
  cursor: Key;
  from: number;
}

/**
 * Moves the next `chunk` entries after the sweep's cursor (key order) from the recent tier into the
 * main tier; true when that was the last of them (the sweep is done: its through_id is recorded).
 * Entries filled behind the cursor meanwhile wait for the next sweep. Every entry is in exactly one
 * tier after each chunk, so a query (which reads both) sees each row once at every moment.
 */
function sweepChunk(s: IndexStatements, sweep: Sweep, chunk: number): boolean {
  const chunkEnd = s.chunkEnd.get(...sweep.cursor, chunk - 1) as Key | undefined;
  // Fewer than `chunk` entries left after the cursor: the final chunk runs to the tier's last key.
  const end = chunkEnd ?? (s.lastKey.get() as Key | undefined);
  if (end) {
    s.moveRange.run(...sweep.cursor, ...end);
    s.dropRange.run(...sweep.cursor, ...end);
  }
  if (chunkEnd) {
    sweep.cursor = chunkEnd;
    return false;
  }
  s.markSwept.run(s.ix.recent, sweep.from);
  return true;
}

/**
 * A function to call inside each batch's write transaction with the id of the batch's last row.
 * It does at most one index step per batch, so the writer's bursts on a shared core stay one fill
 * long: the fill of the index furthest behind with `everyRows` or more rows without entries (its
 * entries sorted, so each key's new entries are written together; into the recent tier, or into the
 * main one while the log has fewer than `directFillRows` rows), or a chunk of a sweep from a recent
 * tier into its main tier (everyRows entries, at least SWEEP_CHUNK_MIN). When both are waiting they
 * take turns, so neither waits for ever. A failure fails the batch, which is retried whole: rows and
 * entries never disagree. Sweeps are this writer's own (in memory): a writer that starts again, or
 * another process's writer on the same file, starts a sweep of its own; moving an entry twice is a no-op.
 */
export function deferredIndexFiller(db: Db, directFillRows = DIRECT_FILL_ROWS): (headId: number, everyRows: number) => void {
  const steps = INDEXES.map((ix) => ({ s: indexStatements(db, ix), sweep: undefined as Sweep | undefined }));
  const readState = stateReader(db);
  const oldestId = db.prepare('SELECT MIN(id) FROM audit_log').pluck();
  let lastWasFill = false;
  return (headId, everyRows) => {
    // The index furthest behind goes first, so none waits for ever when several are due at every batch.
    let due: { s: IndexStatements; through: number } | undefined;
    let sweepable: { step: (typeof steps)[number]; through: number; pending: number } | undefined;
    const state = readState();
    for (const step of steps) {
      const through = state(step.s.ix.table);
      if (headId - through >= everyRows && (!due || through < due.through)) due = { s: step.s, through };
      const pending = step.sweep ? Number.MAX_SAFE_INTEGER : through - state(step.s.ix.recent);
      if (pending >= SWEEP_FILLS * everyRows && (!sweepable || pending > sweepable.pending)) sweepable = { step, through, pending };
    }
    if (due && !(lastWasFill && sweepable)) {
      const rows = headId - ((oldestId.get() as number | null) ?? headId) + 1;
      fill(due.s, due.through, headId, rows < directFillRows);
      lastWasFill = true;
      return;
    }
    lastWasFill = false;
    if (!sweepable) return;
    const step = sweepable.step;
    step.sweep ??= { cursor: LOWEST, from: sweepable.through };
    if (sweepChunk(step.s, step.sweep, Math.max(everyRows, SWEEP_CHUNK_MIN))) step.sweep = undefined;
  };
}

/**
 * Every deferred index brought up to `headId` at once, inside the caller's transaction: for rows
 * inserted other than by the writer (a copy's restoreChain), so no index is left behind by more
 * than the writer's indexBatchRows.
 */
export function deferredIndexCatchUp(db: Db): (headId: number) => void {
  const steps = INDEXES.map((ix) => indexStatements(db, ix));
  const readState = stateReader(db);
  return (headId) => {
    const state = readState();
    for (const s of steps) {
      const through = state(s.ix.table);
      // Straight into the main tables: a restore is one bulk fill, sorted, not a stream of small ones.
      if (headId > through) fill(s, through, headId, true);
    }
  };
}

/** Retention: deletes the entries of rows about to be deleted (by primary key; a row without one is skipped). */
export function entryDeleter(db: Db): (rows: ReadonlyArray<Record<string, unknown>>) => void {
  // Either tier may hold a row's entry (a sweep moves them in key order, not by age).
  const steps = INDEXES.flatMap((ix) =>
    [ix.table, ix.recent].map((table) => ({ del: db.prepare(`DELETE FROM ${table} WHERE ${ix.column} = ? AND time = ? AND id = ?`), column: ix.column })),
  );
  return (rows) => {
    for (const s of steps) {
      for (const r of rows) if (r[s.column] != null) s.del.run(r[s.column], r.time, r.id);
    }
  };
}

/** The columns retention must read for entryDeleter. */
export const DEFERRED_COLUMNS = INDEXES.map((ix) => ix.column);
