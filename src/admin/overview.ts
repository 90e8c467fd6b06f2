// GET /api/overview: the last hour of traffic from the audit log, in one-minute buckets
// (requests, denials, rate-limited calls, p50/p99 latency) plus denials by reason.
//
// The audit table can hold millions of rows an hour and one big query would stall the store (on
// SQLite the proxy's own event loop) for seconds. Instead each minute is one small grouped query
// (AuditStore.overview), the event loop is yielded between minutes, and minutes that can no longer
// change are kept, so a refresh re-reads only the last few minutes.
import type Router from '@koa/router';
import type { AuditStore, OverviewGroup } from '../store/audit-store.js';
import type { Runtime } from '../http/runtime.js';
import type { AdminAuditEntry, Overview, OverviewBucket } from './wire.js';
import { asBadRequest } from './audit-routes.js';
export type { Overview, OverviewBucket };

interface Minute {
  bucket: OverviewBucket;
  byDecision: Record<string, number>;
  denyReasons: Record<string, number>;
}

const MINUTE = 60_000;
/** Rows reach the table within the audit flush interval (plus retries); older minutes are final. */
const SETTLED_MS = 5 * MINUTE;

/** Nearest-rank percentile (rank = ceil(n·p)) over a latency histogram sorted by latency. */
function percentile(hist: Array<[number, number]>, n: number, p: number): number | null {
  if (n === 0) return null;
  const rank = Math.ceil(n * p);
  let seen = 0;
  for (const [l, c] of hist) {
    seen += c;
    if (seen >= rank) return l;
  }
  return hist[hist.length - 1]![0];
}

/** One minute's groups as a bucket; the latency histogram needs them in latency order. */
function minuteOf(start: number, groups: OverviewGroup[]): Minute {
  const rows = [...groups].sort((a, b) => a.latencyMs - b.latencyMs);
  const byDecision: Record<string, number> = {};
  const denyReasons: Record<string, number> = {};
  const hist: Array<[number, number]> = [];
  let requests = 0;
  let rateLimited = 0;
  for (const row of rows) {
    requests += row.count;
    byDecision[row.decision] = (byDecision[row.decision] ?? 0) + row.count;
    if (row.decision === 'deny') denyReasons[row.reason] = (denyReasons[row.reason] ?? 0) + row.count;
    if (row.reason === 'rate_limited') rateLimited += row.count;
    const last = hist[hist.length - 1];
    if (last && last[0] === row.latencyMs) last[1] += row.count;
    else hist.push([row.latencyMs, row.count]);
  }
  return {
    bucket: {
      start: new Date(start).toISOString(),
      requests,
      denied: byDecision.deny ?? 0,
      rateLimited,
      p50Ms: percentile(hist, requests, 0.5),
      p99Ms: percentile(hist, requests, 0.99),
    },
    byDecision,
    denyReasons,
  };
}

const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

/** Per-runtime cache of settled minutes (keyed by minute start). */
export class OverviewCache {
  private readonly settled = new Map<number, Minute>();
  constructor(private readonly store: AuditStore) {}

  async compute(now: number, minutes = 60): Promise<Overview> {
    const end = Math.floor(now / MINUTE) * MINUTE + MINUTE;
    const start = end - minutes * MINUTE;
    for (const k of this.settled.keys()) if (k < start) this.settled.delete(k);
    const all: Minute[] = [];
    for (let t = start; t < end; t += MINUTE) {
      let m = this.settled.get(t);
      if (!m) {
        m = minuteOf(t, await this.store.overview(t, t + MINUTE));
        if (t + MINUTE <= now - SETTLED_MS) this.settled.set(t, m);
        await yieldLoop();
      }
      all.push(m);
    }
    const sum = (pick: (m: Minute) => number) => all.reduce((a, m) => a + pick(m), 0);
    const reasons = new Map<string, number>();
    for (const m of all) for (const [r, n] of Object.entries(m.denyReasons)) reasons.set(r, (reasons.get(r) ?? 0) + n);
    return {
      from: new Date(start).toISOString(),
      to: new Date(end).toISOString(),
      bucketSec: MINUTE / 1000,
      totals: {
        requests: sum((m) => m.bucket.requests),
        allowed: sum((m) => m.byDecision.allow ?? 0),
        denied: sum((m) => m.byDecision.deny ?? 0),
        passthrough: sum((m) => m.byDecision.passthrough ?? 0),
        errors: sum((m) => m.byDecision.error ?? 0),
        rateLimited: sum((m) => m.bucket.rateLimited),
      },
      denialsByReason: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      buckets: all.map((m) => m.bucket),
    };
  }
}

/** Several open admin pages poll every 15 s; one computation serves them all for this long. */
const CACHE_MS = 5000;

export function registerOverviewRoutes(router: Router, rt: Runtime): void {
  const cache = new OverviewCache(rt.stores.audit);
  let last: { at: number; value: Promise<Overview> } | undefined;
  router.get('/api/overview', async (ctx) => {
    // Wall-clock age (not the injected Clock): this bounds database work, it decides nothing.
    const t = performance.now();
    if (!last || t - last.at > CACHE_MS) {
      last = { at: t, value: cache.compute(rt.deps.clock.now()) };
      last.value.catch(() => (last = undefined));
    }
    ctx.body = await last.value;
  });
  router.get('/api/admin-activity', async (ctx) => {
    const audit = rt.deps.services.audit;
    const limit = Number(ctx.query.limit ?? 50);
    const cursor = typeof ctx.query.cursor === 'string' && ctx.query.cursor ? ctx.query.cursor : undefined;
    const body: { items: AdminAuditEntry[]; nextCursor: string | null } = audit
      ? await asBadRequest(() => audit.queryAdmin({ limit: Number.isInteger(limit) && limit > 0 ? limit : 50, cursor }))
      : { items: [], nextCursor: null };
    ctx.body = body;
  });
}
