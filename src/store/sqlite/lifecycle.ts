// LifecycleStore on SQLite: one process owns the file, so the job lock is always this process's.
import type { Db } from './db.js';
import {
  MAX_DELIVERIES_PAGE,
  type DeliveryRecord,
  type DeliveryUpdate,
  type JobRun,
  type LifecycleDump,
  type LifecycleStore,
  type Locked,
  type TokenWarning,
} from '../lifecycle-store.js';

/** A notification_deliveries row (both dialects). */
export interface DeliveryRow {
  id: string;
  time: number;
  channel: DeliveryRecord['channel'];
  event: string;
  token_id: string | null;
  owner: string | null;
  target: string;
  status: DeliveryRecord['status'];
  attempts: number;
  last_error: string | null;
  sent_at: number | null;
}

export const DELIVERY_COLUMNS = 'id, time, channel, event, token_id, owner, target, status, attempts, last_error, sent_at';

export const deliveryOf = (r: DeliveryRow): DeliveryRecord => ({
  id: r.id,
  time: r.time,
  channel: r.channel,
  event: r.event,
  tokenId: r.token_id,
  owner: r.owner,
  target: r.target,
  status: r.status,
  attempts: r.attempts,
  lastError: r.last_error,
  sentAt: r.sent_at,
});

export const deliveryRowOf = (d: DeliveryRecord): DeliveryRow => ({
  id: d.id,
  time: d.time,
  channel: d.channel,
  event: d.event,
  token_id: d.tokenId,
  owner: d.owner,
  target: d.target,
  status: d.status,
  attempts: d.attempts,
  last_error: d.lastError,
  sent_at: d.sentAt,
});

/** The page size asked for, within 1..MAX_DELIVERIES_PAGE (default 100). */
export const deliveryLimit = (limit?: number): number => Math.max(1, Math.min(MAX_DELIVERIES_PAGE, Math.trunc(limit ?? 100) || 100));

export class SqliteLifecycleStore implements LifecycleStore {
  constructor(
    private readonly db: Db,
    private readonly replica: string,
  ) {}

  async noteWarning(tokenId: string, kind: string, at: number): Promise<boolean> {
    return this.db.prepare('INSERT INTO token_warnings (token_id, kind, noted_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(tokenId, kind, at).changes > 0;
  }

  async warnings(tokenId: string): Promise<TokenWarning[]> {
    return this.db
      .prepare('SELECT token_id AS tokenId, kind, noted_at AS at FROM token_warnings WHERE token_id = ? ORDER BY noted_at, kind')
      .all(tokenId) as TokenWarning[];
  }

  async forgetWarnings(tokenIds: readonly string[]): Promise<void> {
    const del = this.db.prepare('DELETE FROM token_warnings WHERE token_id = ?');
    this.db.transaction(() => {
      for (const id of tokenIds) del.run(id);
    })();
  }

  async recordDelivery(d: DeliveryRecord): Promise<void> {
    this.insertDelivery(d);
  }

  private insertDelivery(d: DeliveryRecord): void {
    this.db
      .prepare(`INSERT INTO notification_deliveries (${DELIVERY_COLUMNS}) VALUES (@id, @time, @channel, @event, @token_id, @owner, @target, @status, @attempts, @last_error, @sent_at)`)
      .run(deliveryRowOf(d));
  }

  async updateDelivery(id: string, u: DeliveryUpdate): Promise<boolean> {
    return (
      this.db.prepare('UPDATE notification_deliveries SET status = ?, attempts = ?, last_error = ?, sent_at = ? WHERE id = ?').run(u.status, u.attempts, u.lastError, u.sentAt, id)
        .changes > 0
    );
  }

  async listDeliveries(q: { limit?: number; tokenId?: string } = {}): Promise<DeliveryRecord[]> {
    const limit = deliveryLimit(q.limit);
    const rows =
      q.tokenId === undefined
        ? this.db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries ORDER BY time DESC, id DESC LIMIT ?`).all(limit)
        : this.db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries WHERE token_id = ? ORDER BY time DESC, id DESC LIMIT ?`).all(q.tokenId, limit);
    return (rows as DeliveryRow[]).map(deliveryOf);
  }

  async pruneDeliveries(before: number): Promise<number> {
    return this.db.prepare('DELETE FROM notification_deliveries WHERE time < ?').run(before).changes;
  }

  async withJobLock<T>(_name: string, fn: () => Promise<T>): Promise<Locked<T>> {
    // A SQLite file belongs to one sidecar: there is no other replica to take turns with.
    return { ran: true, value: await fn() };
  }

  async claimRun(name: string, at: number, minGapMs: number): Promise<boolean> {
    const r = this.db
      .prepare(
        `INSERT INTO job_runs (name, last_run_at, replica) VALUES (@name, @at, @replica)
         ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at, replica = excluded.replica
          WHERE job_runs.last_run_at <= @at - @gap OR job_runs.last_run_at > @at`,
      )
      .run({ name, at, replica: this.replica, gap: minGapMs });
    return r.changes > 0;
  }

  async lastRun(name: string): Promise<JobRun | undefined> {
    return this.db.prepare('SELECT name, last_run_at AS at, replica FROM job_runs WHERE name = ?').get(name) as JobRun | undefined;
  }

  async dump(): Promise<LifecycleDump> {
    const warnings = this.db.prepare('SELECT token_id AS tokenId, kind, noted_at AS at FROM token_warnings ORDER BY token_id, kind').all() as TokenWarning[];
    const deliveries = (this.db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries ORDER BY time, id`).all() as DeliveryRow[]).map(deliveryOf);
    return { warnings, deliveries };
  }

  async restore(d: LifecycleDump): Promise<void> {
    const warn = this.db.prepare('INSERT INTO token_warnings (token_id, kind, noted_at) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const w of d.warnings) warn.run(w.tokenId, w.kind, w.at);
      for (const x of d.deliveries) this.insertDelivery(x);
    })();
  }
}
