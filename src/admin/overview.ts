// GET /api/overview[?range=1h|24h|7d | ?from=&to=]: traffic from the audit log in buckets (one
// minute for an hour, 15 minutes for a day, an hour for a week; custom ranges get the size that
// keeps about 100-200 buckets): requests, denials, rate-limited calls, p50/p99 latency, denials by
// reason, and the top users / tokens / clients / paths by requests and by refusals.
//
// The audit table can hold millions of rows an hour and one big query would stall the store (on
// SQLite the proxy's own event loop) for seconds. Instead each bucket is one small grouped query
// (AuditStore.overview), the event loop is yielded between buckets, and buckets that can no longer
// change are kept, so a refresh re-reads only the last few. The top lists are one grouped query per
// dimension (AuditStore.top), shared for CACHE_MS by every page asking for the same range.
import type Router from '@koa/router';
import type { AuditStore, OverviewGroup, TopDimension } from '../store/audit-store.js';
import type { Runtime } from '../http/runtime.js';
import { OVERVIEW_RANGES, type AdminAuditEntry, type Overview, type OverviewBucket, type OverviewRange, type OverviewTop } from './wire.js';
import { asBadRequest } from './audit-routes.js';
import { fieldError } from './http-util.js';
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
    if (row.decision === 'deny' && row.reason === 'rate_limited') rateLimited += row.count;
    const last = hist[hist.length - 1];
    if (last && last[0] === row.latencyMs) last[1] += row.count;
    else hist.push([row.latencyMs, row.count]);
  }
  return {
    bucket: {
      start: new Date(start).toISOString(),
      requests,
      denied: (byDecision.deny ?? 0) - rateLimited,
      rateLimited,
      p50Ms: percentile(hist, requests, 0.5),
      p99Ms: percentile(hist, requests, 0.99),
    },
    byDecision,
    denyReasons,
  };
}

const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

/** A range resolved to bucket-aligned bounds. */
export interface OverviewWindow {
  range: OverviewRange;
  start: number;
  end: number;
  bucketMs: number;
}

const BUCKET_SIZES = [1, 5, 15, 60, 360, 1440].map((m) => m * MINUTE);
/** The longest custom range (the retention horizon is rarely longer). */
const MAX_RANGE_MS = 31 * 86_400_000;
const TOP_N = 10;
const DIMENSIONS: Array<[keyof Overview['top'], TopDimension]> = [['users', 'user'], ['tokens', 'token'], ['clients', 'client'], ['paths', 'path']];

/** The query (?range= or ?from=&to=, ISO times or ms) as a window; throws a field error for a bad one. */
export function overviewWindow(query: Record<string, unknown>, now: number): OverviewWindow {
  const str = (k: string) => (typeof query[k] === 'string' && query[k] ? (query[k] as string) : undefined);
  const from = str('from');
  const to = str('to');
  if (from !== undefined || to !== undefined) {
    const time = (field: string, v: string | undefined) => {
      if (v === undefined) throw fieldError(field, 'is required with a custom range');
      const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
      if (!Number.isFinite(t)) throw fieldError(field, 'is not a date and time');
      return t;
    };
    const a = time('from', from);
    const b = time('to', to);
    if (b <= a) throw fieldError('to', 'must be after the start');
    if (b - a > MAX_RANGE_MS) throw fieldError('to', 'must be at most 31 days after the start');
    const bucketMs = BUCKET_SIZES.find((s) => (b - a) / s <= 200) ?? BUCKET_SIZES[BUCKET_SIZES.length - 1]!;
    const start = Math.floor(a / bucketMs) * bucketMs;
    return { range: 'custom', start, end: Math.max(start + bucketMs, Math.ceil(b / bucketMs) * bucketMs), bucketMs };
  }
  const range = (str('range') ?? '1h') as keyof typeof OVERVIEW_RANGES;
  const span = OVERVIEW_RANGES[range];
  if (!Object.hasOwn(OVERVIEW_RANGES, range) || !span) throw fieldError('range', `must be one of ${Object.keys(OVERVIEW_RANGES).join(', ')}`);
  const bucketMs = range === '1h' ? MINUTE : range === '24h' ? 15 * MINUTE : 60 * MINUTE;
  const end = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  return { range, start: end - span, end, bucketMs };
}

/** Per-runtime cache of settled buckets (keyed by size and start). */
export class OverviewCache {
  private readonly settled = new Map<string, Minute>();
  constructor(private readonly store: AuditStore) {}

  async compute(now: number, minutes = 60): Promise<Overview> {
    const end = Math.floor(now / MINUTE) * MINUTE + MINUTE;
    return this.computeWindow(now, { range: '1h', start: end - minutes * MINUTE, end, bucketMs: MINUTE });
  }

  async computeWindow(now: number, w: OverviewWindow): Promise<Overview> {
    const { start, end, bucketMs } = w;
    // Forget buckets older than any preset range; a cap bounds what custom ranges can pile up.
    for (const k of this.settled.keys()) if (Number(k.split(':')[1]) < now - OVERVIEW_RANGES['7d'] - 86_400_000 || this.settled.size > 20_000) this.settled.delete(k);
    const all: Minute[] = [];
    for (let t = start; t < end; t += bucketMs) {
      const key = `${bucketMs}:${t}`;
      let m = this.settled.get(key);
      if (!m) {
        m = minuteOf(t, await this.store.overview(t, t + bucketMs));
        if (t + bucketMs <= now - SETTLED_MS) this.settled.set(key, m);
        await yieldLoop();
      }
      all.push(m);
    }
    const sum = (pick: (m: Minute) => number) => all.reduce((a, m) => a + pick(m), 0);
    const reasons = new Map<string, number>();
    for (const m of all) for (const [r, n] of Object.entries(m.denyReasons)) reasons.set(r, (reasons.get(r) ?? 0) + n);
    const top = {} as Overview['top'];
    for (const [name, dim] of DIMENSIONS) {
      top[name] = (await this.store.top(start, end, dim, TOP_N)) satisfies OverviewTop;
      await yieldLoop();
    }
    return {
      range: w.range,
      from: new Date(start).toISOString(),
      to: new Date(end).toISOString(),
      bucketSec: bucketMs / 1000,
      totals: {
        requests: sum((m) => m.bucket.requests),
        allowed: sum((m) => m.byDecision.allow ?? 0),
        denied: sum((m) => m.bucket.denied),
        passthrough: sum((m) => m.byDecision.passthrough ?? 0),
        errors: sum((m) => m.byDecision.error ?? 0),
        rateLimited: sum((m) => m.bucket.rateLimited),
      },
      denialsByReason: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      buckets: all.map((m) => m.bucket),
      top,
    };
  }
}

/** Several open admin pages poll every 15 s; one computation serves them all for this long. */
const CACHE_MS = 5000;

export function registerOverviewRoutes(router: Router, rt: Runtime): void {
  const cache = new OverviewCache(rt.stores.audit);
  const recent = new Map<string, { at: number; value: Promise<Overview> }>();
  router.get('/api/overview', async (ctx) => {
    const now = rt.deps.clock.now();
    const w = overviewWindow(ctx.query, now);
    const key = w.range === 'custom' ? `${w.start}-${w.end}` : w.range;
    // Wall-clock age (not the injected Clock): this bounds database work, it decides nothing.
    const t = performance.now();
    for (const [k, v] of recent) if (t - v.at > CACHE_MS) recent.delete(k);
    let last = recent.get(key);
    if (!last) {
      const entry = { at: t, value: cache.computeWindow(now, w) };
      recent.set(key, entry);
      entry.value.catch(() => recent.delete(key));
      last = entry;
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
