// VerdictStore on PostgreSQL: the statements of sqlite/verdicts.ts; a save is one transaction on a
// connection of its own, its rows sent as arrays (one INSERT … SELECT FROM unnest, not a statement
// per row). Replicas stopping together each upsert their own verdicts; the newest save wins a hash.
import type pg from 'pg';
import type { HandedVerdict, VerdictKind, VerdictStore } from '../verdict-store.js';

export class PgVerdictStore implements VerdictStore {
  constructor(private readonly pool: pg.Pool) {}

  async save(kind: VerdictKind, fingerprint: string, verdicts: readonly HandedVerdict[], o: { now: number; keep: number }): Promise<void> {
    const now = Math.trunc(o.now);
    const live = verdicts.map((v, i) => ({ ...v, i })).filter((v) => v.untilMs > now);
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      try {
        await c.query('DELETE FROM handed_verdicts WHERE kind = $1 AND (fingerprint <> $2 OR until_ms <= $3)', [kind, fingerprint, now]);
        if (live.length)
          await c.query(
            `INSERT INTO handed_verdicts (kind, hash, fingerprint, identity, until_ms, saved_at, position)
             SELECT $1, h, $2, j, u, $3, p FROM unnest($4::text[], $5::text[], $6::bigint[], $7::int[]) AS t(h, j, u, p)
             ON CONFLICT (kind, hash) DO UPDATE SET fingerprint = excluded.fingerprint, identity = excluded.identity, until_ms = excluded.until_ms,
               saved_at = excluded.saved_at, position = excluded.position`,
            [kind, fingerprint, now, live.map((v) => v.hash), live.map((v) => v.identity), live.map((v) => Math.trunc(v.untilMs)), live.map((v) => v.i)],
          );
        await c.query('DELETE FROM handed_verdicts WHERE kind = $1 AND hash IN (SELECT hash FROM handed_verdicts WHERE kind = $1 ORDER BY saved_at DESC, position OFFSET $2)', [kind, Math.max(0, Math.trunc(o.keep))]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch((r: Error) => (broken = r));
        throw e;
      }
    } finally {
      c.release(broken);
    }
  }

  async load(kind: VerdictKind, fingerprint: string, o: { now: number; limit: number }): Promise<HandedVerdict[]> {
    const r = await this.pool.query<{ hash: string; identity: string; until_ms: number }>(
      'SELECT hash, identity, until_ms FROM handed_verdicts WHERE kind = $1 AND fingerprint = $2 AND until_ms > $3 ORDER BY saved_at DESC, position LIMIT $4',
      [kind, fingerprint, Math.trunc(o.now), Math.max(0, Math.trunc(o.limit))],
    );
    return r.rows.map((x) => ({ hash: x.hash, identity: x.identity, untilMs: x.until_ms })); // bigint as a number (pool.ts)
  }

  async clear(kind: VerdictKind): Promise<number> {
    return (await this.pool.query('DELETE FROM handed_verdicts WHERE kind = $1', [kind])).rowCount ?? 0;
  }
}
