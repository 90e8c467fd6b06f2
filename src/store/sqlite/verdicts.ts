// VerdictStore on SQLite (table handed_verdicts, one kind per call): one transaction per save (better-sqlite3 is synchronous; a save of the
// default 10,000 verdicts takes tens of milliseconds, once, at shutdown).
import type { HandedVerdict, VerdictKind, VerdictStore } from '../verdict-store.js';
import type { Db } from './db.js';

export class SqliteVerdictStore implements VerdictStore {
  constructor(private readonly db: Db) {}

  async save(kind: VerdictKind, fingerprint: string, verdicts: readonly HandedVerdict[], o: { now: number; keep: number }): Promise<void> {
    const now = Math.trunc(o.now);
    const drop = this.db.prepare('DELETE FROM handed_verdicts WHERE kind = ? AND (fingerprint <> ? OR until_ms <= ?)');
    const put = this.db.prepare(
      `INSERT INTO handed_verdicts (kind, hash, fingerprint, identity, until_ms, saved_at, position) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, hash) DO UPDATE SET fingerprint = excluded.fingerprint, identity = excluded.identity, until_ms = excluded.until_ms,
         saved_at = excluded.saved_at, position = excluded.position`,
    );
    const trim = this.db.prepare('DELETE FROM handed_verdicts WHERE kind = ? AND hash IN (SELECT hash FROM handed_verdicts WHERE kind = ? ORDER BY saved_at DESC, position LIMIT -1 OFFSET ?)');
    this.db.transaction(() => {
      drop.run(kind, fingerprint, now);
      verdicts.forEach((v, i) => {
        if (v.untilMs > now) put.run(kind, v.hash, fingerprint, v.identity, Math.trunc(v.untilMs), now, i);
      });
      trim.run(kind, kind, Math.max(0, Math.trunc(o.keep)));
    })();
  }

  async load(kind: VerdictKind, fingerprint: string, o: { now: number; limit: number }): Promise<HandedVerdict[]> {
    const rows = this.db
      .prepare('SELECT hash, identity, until_ms FROM handed_verdicts WHERE kind = ? AND fingerprint = ? AND until_ms > ? ORDER BY saved_at DESC, position LIMIT ?')
      .all(kind, fingerprint, Math.trunc(o.now), Math.max(0, Math.trunc(o.limit))) as Array<{ hash: string; identity: string; until_ms: number }>;
    return rows.map((r) => ({ hash: r.hash, identity: r.identity, untilMs: r.until_ms }));
  }

  async clear(kind: VerdictKind): Promise<number> {
    return this.db.prepare('DELETE FROM handed_verdicts WHERE kind = ?').run(kind).changes;
  }
}
