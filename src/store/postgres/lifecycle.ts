// LifecycleStore on PostgreSQL: the same statements as sqlite/lifecycle.ts; the job lock is a
// session advisory lock, so a job runs on one replica of the cluster at a time.
import type pg from 'pg';
import {
  type DeliveryRecord,
  type DeliveryUpdate,
  type JobRun,
  type LifecycleDump,
  type LifecycleStore,
  type Locked,
  type TokenWarning,
} from '../lifecycle-store.js';
import { DELIVERY_COLUMNS, deliveryLimit, deliveryOf, deliveryRowOf, type DeliveryRow } from '../sqlite/lifecycle.js';
import { inTransaction } from './pool.js';

/** The advisory-lock key of a job: a 64-bit hash of its name, in a space of its own ("job:"). */
export const JOB_LOCK_KEY_SQL = `hashtextextended('job:' || $1, 0)`;

export class PgLifecycleStore implements LifecycleStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly replica: string,
  ) {}

  async noteWarning(tokenId: string, kind: string, at: number): Promise<boolean> {
    // One statement: of replicas noting the same warning at once, exactly one inserts the row.
    const r = await this.pool.query('INSERT INTO token_warnings (token_id, kind, noted_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [tokenId, kind, at]);
    return (r.rowCount ?? 0) > 0;
  }

  async warnings(tokenId: string): Promise<TokenWarning[]> {
    const r = await this.pool.query<TokenWarning>(
      `SELECT token_id AS "tokenId", kind, noted_at AS at FROM token_warnings WHERE token_id = $1 ORDER BY noted_at, kind COLLATE "C"`,
      [tokenId],
    );
    return r.rows;
  }

  async forgetWarnings(tokenIds: readonly string[]): Promise<void> {
    if (tokenIds.length === 0) return;
    await this.pool.query('DELETE FROM token_warnings WHERE token_id = ANY($1::text[])', [tokenIds]);
  }

  async recordDelivery(d: DeliveryRecord): Promise<void> {
    const r = deliveryRowOf(d);
    await this.pool.query(`INSERT INTO notification_deliveries (${DELIVERY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
      r.id, r.time, r.channel, r.event, r.token_id, r.owner, r.target, r.status, r.attempts, r.last_error, r.sent_at,
    ]);
  }

  async updateDelivery(id: string, u: DeliveryUpdate): Promise<boolean> {
    const r = await this.pool.query('UPDATE notification_deliveries SET status = $1, attempts = $2, last_error = $3, sent_at = $4 WHERE id = $5', [
      u.status, u.attempts, u.lastError, u.sentAt, id,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async listDeliveries(q: { limit?: number; tokenId?: string } = {}): Promise<DeliveryRecord[]> {
    const limit = deliveryLimit(q.limit);
    const r =
      q.tokenId === undefined
        ? await this.pool.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries ORDER BY time DESC, id COLLATE "C" DESC LIMIT $1`, [limit])
        : await this.pool.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries WHERE token_id = $1 ORDER BY time DESC, id COLLATE "C" DESC LIMIT $2`, [
            q.tokenId,
            limit,
          ]);
    return r.rows.map(deliveryOf);
  }

  async pruneDeliveries(before: number): Promise<number> {
    return (await this.pool.query('DELETE FROM notification_deliveries WHERE time < $1', [before])).rowCount ?? 0;
  }

  /**
   * As the audit retention pass (postgres/audit.ts prune): a session lock on a connection of its
   * own, released before the connection goes back to the pool, or with the connection when the
   * unlock fails (a connection whose unlock failed is closed, not pooled).
   */
  async withJobLock<T>(name: string, fn: () => Promise<T>): Promise<Locked<T>> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const locked = (await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${JOB_LOCK_KEY_SQL}) AS ok`, [name])).rows[0]!.ok;
      if (!locked) return { ran: false };
      try {
        return { ran: true, value: await fn() };
      } finally {
        await c.query(`SELECT pg_advisory_unlock(${JOB_LOCK_KEY_SQL})`, [name]).catch((e: Error) => (broken = e));
      }
    } finally {
      c.release(broken);
    }
  }

  async claimRun(name: string, at: number, minGapMs: number): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO job_runs (name, last_run_at, replica) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at, replica = excluded.replica
        WHERE job_runs.last_run_at <= $2::bigint - $4::bigint OR job_runs.last_run_at > $2::bigint`,
      [name, at, this.replica, minGapMs],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async lastRun(name: string): Promise<JobRun | undefined> {
    return (await this.pool.query<JobRun>('SELECT name, last_run_at AS at, replica FROM job_runs WHERE name = $1', [name])).rows[0];
  }

  async dump(): Promise<LifecycleDump> {
    const warnings = (await this.pool.query<TokenWarning>(`SELECT token_id AS "tokenId", kind, noted_at AS at FROM token_warnings ORDER BY token_id COLLATE "C", kind COLLATE "C"`)).rows;
    const deliveries = (await this.pool.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries ORDER BY time, id COLLATE "C"`)).rows.map(deliveryOf);
    return { warnings, deliveries };
  }

  async restore(d: LifecycleDump): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      if (d.warnings.length) {
        await c.query('INSERT INTO token_warnings (token_id, kind, noted_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])', [
          d.warnings.map((w) => w.tokenId),
          d.warnings.map((w) => w.kind),
          d.warnings.map((w) => w.at),
        ]);
      }
      if (d.deliveries.length) {
        const rows = d.deliveries.map(deliveryRowOf);
        const col = <K extends keyof DeliveryRow>(k: K) => rows.map((r) => r[k]);
        await c.query(
          `INSERT INTO notification_deliveries (${DELIVERY_COLUMNS})
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[], $11::bigint[])`,
          [col('id'), col('time'), col('channel'), col('event'), col('token_id'), col('owner'), col('target'), col('status'), col('attempts'), col('last_error'), col('sent_at')],
        );
      }
    });
  }
}
