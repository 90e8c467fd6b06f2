// GET /api/overview: the last hour of traffic from the audit log, in one-minute buckets
// (requests, denials, rate-limited calls, p50/p99 latency) plus denials by reason.
import type Router from '@koa/router';
import type { Db } from '../store/db.js';
import type { Runtime } from '../http/runtime.js';

export interface OverviewBucket {
  /** ISO start of the minute. */
  start: string;
  requests: number;
  denied: number;
  rateLimited: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface Overview {
  from: string;
  to: string;
  bucketSec: number;
  totals: { requests: number; allowed: number; denied: number; passthrough: number; errors: number; rateLimited: number };
  denialsByReason: Array<{ reason: string; count: number }>;
  buckets: OverviewBucket[];
}

const MINUTE = 60_000;

/**
 * Percentiles are nearest-rank (rank = ceil(n·p)), computed per minute inside SQLite with window
 * functions so no row leaves the database; integer arithmetic because ceil() is an optional build.
 */
export function computeOverview(db: Db, now: number, minutes = 60): Overview {
  const end = Math.floor(now / MINUTE) * MINUTE + MINUTE;
  const start = end - minutes * MINUTE;
  const byDecision = db.prepare('SELECT decision, count(*) AS n FROM audit_log WHERE time >= ? AND time < ? GROUP BY decision').all(start, end) as Array<{ decision: string; n: number }>;
  const reasons = db
    .prepare("SELECT reason, count(*) AS n FROM audit_log WHERE time >= ? AND time < ? AND decision = 'deny' GROUP BY reason ORDER BY n DESC, reason")
    .all(start, end) as Array<{ reason: string; n: number }>;
  const rows = db
    .prepare(
      `WITH r AS (
         SELECT time / ${MINUTE} AS m, latency_ms AS l, decision, reason,
                row_number() OVER (PARTITION BY time / ${MINUTE} ORDER BY latency_ms) AS rn,
                count(*) OVER (PARTITION BY time / ${MINUTE}) AS n
         FROM audit_log WHERE time >= ? AND time < ?)
       SELECT m, max(n) AS n,
              sum(decision = 'deny') AS denied,
              sum(reason = 'rate_limited') AS limited,
              max(CASE WHEN rn = (n * 50 + 99) / 100 THEN l END) AS p50,
              max(CASE WHEN rn = (n * 99 + 99) / 100 THEN l END) AS p99
       FROM r GROUP BY m ORDER BY m`,
    )
    .all(start, end) as Array<{ m: number; n: number; denied: number; limited: number; p50: number | null; p99: number | null }>;
  const byMinute = new Map(rows.map((r) => [r.m, r]));
  const buckets: OverviewBucket[] = [];
  for (let t = start; t < end; t += MINUTE) {
    const r = byMinute.get(t / MINUTE);
    buckets.push({ start: new Date(t).toISOString(), requests: r?.n ?? 0, denied: r?.denied ?? 0, rateLimited: r?.limited ?? 0, p50Ms: r?.p50 ?? null, p99Ms: r?.p99 ?? null });
  }
  const count = (d: string) => byDecision.find((x) => x.decision === d)?.n ?? 0;
  return {
    from: new Date(start).toISOString(),
    to: new Date(end).toISOString(),
    bucketSec: MINUTE / 1000,
    totals: {
      requests: byDecision.reduce((a, x) => a + x.n, 0),
      allowed: count('allow'),
      denied: count('deny'),
      passthrough: count('passthrough'),
      errors: count('error'),
      rateLimited: reasons.find((x) => x.reason === 'rate_limited')?.n ?? 0,
    },
    denialsByReason: reasons.map((x) => ({ reason: x.reason, count: x.n })),
    buckets,
  };
}

export function registerOverviewRoutes(router: Router, rt: Runtime): void {
  router.get('/api/overview', (ctx) => {
    ctx.body = computeOverview(rt.db, rt.deps.clock.now());
  });
  router.get('/api/admin-activity', (ctx) => {
    const audit = rt.deps.services.audit;
    const limit = Number(ctx.query.limit ?? 50);
    const cursor = typeof ctx.query.cursor === 'string' && ctx.query.cursor ? ctx.query.cursor : undefined;
    ctx.body = audit ? audit.queryAdmin({ limit: Number.isInteger(limit) && limit > 0 ? limit : 50, cursor }) : { items: [], nextCursor: null };
  });
}
