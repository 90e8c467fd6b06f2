// VerdictStore on PostgreSQL: the statements of sqlite/verdicts.ts; a save is one transaction on a
// connection of its own, its rows sent as arrays (one INSERT … SELECT FROM unnest, not a statement
// per row). Replicas stopping together each upsert their own verdicts; the newest save wins a hash.
import type pg from 'pg';
import type { HandedVerdict, VerdictStore } from '../verdict-store.js';

export class PgVerdictStore implements VerdictStore {
  constructor(private readonly pool: pg.Pool) {}

  async save(fingerprint: string, verdicts: readonly HandedVerdict[], o: { now: number; keep: number }): Promise<void> {
    const now = Math.trunc(o.now);
    const live = verdicts.map((v, i) => ({ ...v, i })).filter((v) => v.untilMs > now);
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      try {
        await c.query('DELETE FROM jwt_verdicts WHERE fingerprint <> $1 OR until_ms <= $2', [fingerprint, now]);
        if (live.length)
          await c.query(
            `INSERT INTO jwt_verdicts (hash, fingerprint, identity, until_ms, saved_at, position)
             SELECT h, $1, j, u, $2, p FROM unnest($3::text[], $4::text[], $5::bigint[], $6::int[]) AS t(h, j, u, p)
             ON CONFLICT (hash) DO UPDATE SET fingerprint = excluded.fingerprint, identity = excluded.identity, until_ms = excluded.until_ms,
               saved_at = excluded.saved_at, position = excluded.position`,
            [fingerprint, now, live.map((v) => v.hash), live.map((v) => v.identity), live.map((v) => Math.trunc(v.untilMs)), live.map((v) => v.i)],
          );
        await c.query('DELETE FROM jwt_verdicts WHERE hash IN (SELECT hash FROM jwt_verdicts ORDER BY saved_at DESC, position OFFSET $1)', [Math.max(0, Math.trunc(o.keep))]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch((r: Error) => (broken = r));
        throw e;
      }
    } finally {
      c.release(broken);
    }
  }

  async load(fingerprint: string, o: { now: number; limit: number }): Promise<HandedVerdict[]> {
    const r = await this.pool.query<{ hash: string; identity: string; until_ms: number }>(
      'SELECT hash, identity, until_ms FROM jwt_verdicts WHERE fingerprint = $1 AND until_ms > $2 ORDER BY saved_at DESC, position LIMIT $3',
      [fingerprint, Math.trunc(o.now), Math.max(0, Math.trunc(o.limit))],
    );
    return r.rows.map((x) => ({ hash: x.hash, identity: x.identity, untilMs: x.until_ms })); // bigint as a number (pool.ts)
  }

  async clear(): Promise<number> {
    return (await this.pool.query('DELETE FROM jwt_verdicts')).rowCount ?? 0;
  }
}
