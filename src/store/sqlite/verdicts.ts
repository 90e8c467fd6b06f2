// VerdictStore on SQLite: one transaction per save (better-sqlite3 is synchronous; a save of the
// default 10,000 verdicts takes tens of milliseconds, once, at shutdown).
import type { HandedVerdict, VerdictStore } from '../verdict-store.js';
import type { Db } from './db.js';

export class SqliteVerdictStore implements VerdictStore {
  constructor(private readonly db: Db) {}

  async save(fingerprint: string, verdicts: readonly HandedVerdict[], o: { now: number; keep: number }): Promise<void> {
    const now = Math.trunc(o.now);
    const drop = this.db.prepare('DELETE FROM jwt_verdicts WHERE fingerprint <> ? OR until_ms <= ?');
    const put = this.db.prepare(
      `INSERT INTO jwt_verdicts (hash, fingerprint, identity, until_ms, saved_at, position) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET fingerprint = excluded.fingerprint, identity = excluded.identity, until_ms = excluded.until_ms,
         saved_at = excluded.saved_at, position = excluded.position`,
    );
    const trim = this.db.prepare('DELETE FROM jwt_verdicts WHERE hash IN (SELECT hash FROM jwt_verdicts ORDER BY saved_at DESC, position LIMIT -1 OFFSET ?)');
    this.db.transaction(() => {
      drop.run(fingerprint, now);
      verdicts.forEach((v, i) => {
        if (v.untilMs > now) put.run(v.hash, fingerprint, v.identity, Math.trunc(v.untilMs), now, i);
      });
      trim.run(Math.max(0, Math.trunc(o.keep)));
    })();
  }

  async load(fingerprint: string, o: { now: number; limit: number }): Promise<HandedVerdict[]> {
    const rows = this.db
      .prepare('SELECT hash, identity, until_ms FROM jwt_verdicts WHERE fingerprint = ? AND until_ms > ? ORDER BY saved_at DESC, position LIMIT ?')
      .all(fingerprint, Math.trunc(o.now), Math.max(0, Math.trunc(o.limit))) as Array<{ hash: string; identity: string; until_ms: number }>;
    return rows.map((r) => ({ hash: r.hash, identity: r.identity, untilMs: r.until_ms }));
  }

  async clear(): Promise<number> {
    return this.db.prepare('DELETE FROM jwt_verdicts').run().changes;
  }
}
