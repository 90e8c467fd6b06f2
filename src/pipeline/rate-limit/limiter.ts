// The rate-limit store: rate-limiter-flexible over memory (one process), Redis or PostgreSQL (the
// store's database; replicas share one count). Failures of a shared store follow
// rateLimit.onStoreFailure: 'insurance' falls back to an in-memory limiter per process (each replica
// then enforces the limit on its own), 'deny' answers 503. Never an unlimited allow. A limit with a
// fillRate is a token bucket (rateLimit.algorithm "token-bucket", token-bucket.ts) on the same store
// and the same onStoreFailure rules; a cost takes that many points or tokens at once.
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { MemoryWindows } from './memory-windows.js';
import type pg from 'pg';
import { createPool } from '../../store/postgres/pool.js';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { workerRole } from '../../worker-role.js';
import { clusterLimiterService } from './cluster.js';
import { bucketNumbers, MemoryBuckets, postgresBuckets, redisBuckets, specId, type BucketSpec, type BucketState } from './token-bucket.js';

export type StoreSettings = Pick<Config['rateLimit'], 'store' | 'redisUrl' | 'onStoreFailure' | 'redisTimeoutMs'> & {
  /** store.url, for rateLimit.store postgres. */
  databaseUrl?: string;
};

/** Which store answered: the configured one, or the in-memory insurance limiter while it fails. */
export type LimitVia = 'memory' | 'redis' | 'postgres' | 'insurance';

export type LimitOutcome =
  | {
      kind: 'allowed' | 'limited';
      limit: number;
      remaining: number;
      resetMs: number;
      via: LimitVia;
      /** Token bucket: ms until `cost` tokens are there (0: now). */
      retryMs?: number;
    }
  | { kind: 'unavailable'; detail: string };

export interface RateLimiterService {
  readonly settings: StoreSettings;
  /**
   * consume=false peeks (POST /api/test): the answer says whether the next request would pass.
   * fillRate set: a token bucket of `points` tokens refilled by fillRate per durationSec
   * (token-bucket.ts); else a fixed window of `points` per durationSec. cost: points / tokens taken.
   * The memory store answers at once (no promise, no microtask per request); the shared stores with
   * a promise.
   */
  check(key: string, limit: LimitSpec, consume: boolean, cost?: number): LimitOutcome | Promise<LimitOutcome>;
  /** Store health for /readyz: with 'deny', an unreachable Redis makes the replica not ready. */
  status(): { ok: boolean; detail: string };
  close(): Promise<void>;
}

export interface LimitSpec {
  points: number;
  durationSec: number;
  fillRate?: number;
}

const KEY_PREFIX = 'jas:rl';
const BUCKET_PREFIX = 'jas:tb';
/** Distinct limit sizes kept (token overrides add some); far above what configs produce. */
const MAX_LIMITERS = 10_000;

/** Whether a reload can keep the running store (and its counters). */
export function sameStore(a: StoreSettings, b: StoreSettings): boolean {
  // A worker's memory limiter keeps no counters (the primary does: cluster.ts), so it follows onStoreFailure.
  if (a.store === 'memory' && b.store === 'memory') return !workerRole() || (a.onStoreFailure === b.onStoreFailure && a.redisTimeoutMs === b.redisTimeoutMs);
  return a.store === b.store && a.redisUrl === b.redisUrl && a.databaseUrl === b.databaseUrl && a.onStoreFailure === b.onStoreFailure && a.redisTimeoutMs === b.redisTimeoutMs;
}

/** opts.inProcess: memory counters in this process even in a worker (the cluster's insurance limiter). */
/** What the window algorithm asks of a store's limiter (rate-limiter-flexible's, or MemoryWindows in memory). */
type WindowLimiter = Pick<RateLimiterAbstract, 'consume' | 'get'> | MemoryWindows;

export function createRateLimiterService(settings: StoreSettings, logger: Logger, opts: { inProcess?: boolean } = {}): RateLimiterService {
  // server.workers > 1: the memory counters are the primary's, shared by every worker (cluster.ts).
  if (settings.store === 'memory' && !opts.inProcess && workerRole()) return clusterLimiterService(settings, logger);
  const limiters = new Map<string, WindowLimiter>();
  let redis: Redis | undefined;
  let pgPool: pg.Pool | undefined;
  /** PostgreSQL has no connection state to read: the last statement's outcome stands for it. */
  let pgFailure: string | undefined;
  let lastState = '';
  let closed = false;
  if (settings.store === 'redis') {
    redis = new Redis(settings.redisUrl!, {
      // Fail fast instead of queueing while disconnected: a queued check would hold the request.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: settings.redisTimeoutMs,
      connectTimeout: Math.max(1000, settings.redisTimeoutMs),
      retryStrategy: (times) => Math.min(100 * times, 2000),
    });
    const report = (state: string, err?: Error) => {
      if (state === lastState) return;
      lastState = state;
      if (state === 'ready') logger.info({ store: 'redis' }, 'rate-limit store connected');
      else logger.warn({ store: 'redis', state, err: err?.message, onStoreFailure: settings.onStoreFailure }, 'rate-limit store unavailable');
    };
    redis.on('ready', () => report('ready'));
    redis.on('error', (err: Error) => report('error', err));
    redis.on('end', () => report('end'));
  } else if (settings.store === 'postgres') {
    // A small pool of its own: counting must not wait behind the stores' queries, nor they behind it.
    pgPool = createPool({ url: settings.databaseUrl!, poolSize: 4, statementTimeoutMs: settings.redisTimeoutMs, connectTimeoutMs: Math.max(1000, settings.redisTimeoutMs) });
  }
  const pgOutcome = (err?: unknown) => {
    const next = err === undefined ? undefined : (err as Error)?.message ?? String(err);
    if (next === pgFailure) return;
    if (next) logger.warn({ store: 'postgres', err: next, onStoreFailure: settings.onStoreFailure }, 'rate-limit store unavailable');
    else logger.info({ store: 'postgres' }, 'rate-limit store answers');
    pgFailure = next;
  };
  // The insurance limiter hides a failed statement from the caller: readiness and `via` come from a
  // probe instead, every 2 s (unref'd: it never keeps the process alive).
  const probe = pgPool
    ? setInterval(() => {
        pgPool!.query('SELECT 1').then(() => pgOutcome(), pgOutcome);
      }, 2000)
    : undefined;
  probe?.unref();

  // Nearly every request asks for the same (points, duration): the last answer is kept, so the
  // common case builds no key string and does no map lookup.
  let last: { points: number; durationSec: number; limiter: WindowLimiter } | undefined;
  const limiterFor = (points: number, durationSec: number): WindowLimiter => {
    if (last && last.points === points && last.durationSec === durationSec) return last.limiter;
    const id = `${points}:${durationSec}`;
    let l = limiters.get(id);
    if (l) {
      last = { points, durationSec, limiter: l };
      return l;
    }
    if (limiters.size >= MAX_LIMITERS) limiters.clear();
    last = undefined;
    const keyPrefix = `${KEY_PREFIX}:${id}`;
    const insurance = settings.onStoreFailure === 'insurance' ? new RateLimiterMemory({ points, duration: durationSec, keyPrefix }) : undefined;
    if (pgPool) {
      l = new RateLimiterPostgres({ storeClient: pgPool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true, points, duration: durationSec, keyPrefix, insuranceLimiter: insurance });
    } else if (!redis) l = new MemoryWindows(points, durationSec * 1000); // ≈ 100 bytes a key, bounded (memory-windows.ts)
    else {
      l = new RateLimiterRedis({
        storeClient: redis,
        points,
        duration: durationSec,
        keyPrefix,
        rejectIfRedisNotReady: true,
        insuranceLimiter: settings.onStoreFailure === 'insurance' ? new RateLimiterMemory({ points, duration: durationSec, keyPrefix }) : undefined,
      });
    }
    limiters.set(id, l);
    last = { points, durationSec, limiter: l };
    return l;
  };

  // Token buckets: the store's atomic step, memory insurance when it fails (onStoreFailure).
  const memoryBuckets = new MemoryBuckets();
  const insuranceBuckets = settings.onStoreFailure === 'insurance' ? new MemoryBuckets() : undefined;
  const sharedBuckets = redis ? redisBuckets(redis) : pgPool ? postgresBuckets(pgPool) : undefined;
  /** A shared store's bucket; none in memory, where check takes memoryBuckets' at once. */
  const sharedBucket = sharedBuckets && ((key: string, spec: BucketSpec, cost: number, consume: boolean): Promise<{ state: BucketState; via: LimitVia }> => {
    const storeKey = `${BUCKET_PREFIX}:${specId(spec)}:${key}`;
    const insure = (e: unknown) => {
      if (pgPool) pgOutcome(e);
      if (!insuranceBuckets) throw e;
      return { state: insuranceBuckets.take(key, spec, cost, consume), via: 'insurance' as const };
    };
    // Not connected: fail at once, as rejectIfRedisNotReady does for the window limiter.
    if (redis && redis.status !== 'ready') {
      try {
        return Promise.resolve(insure(new Error(`redis ${redis.status}`)));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return sharedBuckets.take(storeKey, spec, cost, consume).then((state) => {
      if (pgPool) pgOutcome();
      return { state, via: redis ? ('redis' as const) : ('postgres' as const) };
    }, insure);
  });

  const via = () => (pgPool ? (pgFailure ? 'insurance' : 'postgres') : !redis ? 'memory' : redis.status === 'ready' ? 'redis' : 'insurance');

  return {
    settings,
    // Promise chains, not async functions: one promise and one resumption per request fewer.
    check(key, { points, durationSec, fillRate }, consume, cost = 1) {
      const failed = (e: unknown): LimitOutcome => {
        if (e instanceof RateLimiterRes) return { kind: 'limited', limit: points, remaining: Math.max(0, e.remainingPoints), resetMs: e.msBeforeNext, via: via() };
        if (pgPool) pgOutcome(e);
        return { kind: 'unavailable', detail: `rate-limit store failed: ${(e as Error)?.message ?? String(e)}` };
      };
      // A request never costs more than the whole limit (plan.ts costOf caps it too).
      const take = Math.max(1, Math.min(cost, points));
      try {
        if (fillRate !== undefined) {
          const spec: BucketSpec = { max: points, fill: fillRate, intervalMs: durationSec * 1000 };
          const outcome = ({ state, via: v }: { state: BucketState; via: LimitVia }): LimitOutcome => {
            const n = bucketNumbers(state.tokens, take, spec);
            return { kind: state.granted ? 'allowed' : 'limited', limit: points, remaining: n.remaining, resetMs: n.resetMs, retryMs: n.retryMs, via: v };
          };
          if (!sharedBucket) return outcome({ state: memoryBuckets.take(key, spec, take, consume), via: 'memory' });
          return sharedBucket(key, spec, take, consume).then(outcome, failed);
        }
        const l = limiterFor(points, durationSec);
        // Memory: answered at once (over the limit: limited, as RateLimiterMemory's rejection).
        if (l instanceof MemoryWindows) {
          if (consume) {
            const r = l.consumeNow(key, take);
            return r.consumedPoints > points ? failed(r) : { kind: 'allowed', limit: points, remaining: r.remainingPoints, resetMs: r.msBeforeNext, via: 'memory' };
          }
          return peeked(l.getNow(key), take, points, durationSec, 'memory');
        }
        if (consume) {
          return l.consume(key, take).then((r): LimitOutcome => ({ kind: 'allowed', limit: points, remaining: r.remainingPoints, resetMs: r.msBeforeNext, via: via() }), failed);
        }
        return l.get(key).then((r) => peeked(r, take, points, durationSec, via()), failed);
      } catch (e) {
        return failed(e);
      }
    },
    status() {
      if (closed) return { ok: false, detail: 'closed' };
      if (pgPool) {
        if (!pgFailure) return { ok: true, detail: 'postgres' };
        return settings.onStoreFailure === 'insurance' ? { ok: true, detail: `postgres failing (${pgFailure}): in-memory insurance limiter` } : { ok: false, detail: `postgres failing: ${pgFailure} (onStoreFailure: deny)` };
      }
      if (!redis) return { ok: true, detail: 'memory' };
      if (redis.status === 'ready') return { ok: true, detail: 'redis' };
      if (settings.onStoreFailure === 'insurance') return { ok: true, detail: `redis ${redis.status}: in-memory insurance limiter` };
      return { ok: false, detail: `redis ${redis.status} (onStoreFailure: deny)` };
    },
    async close() {
      closed = true;
      limiters.clear();
      last = undefined;
      redis?.disconnect();
      clearInterval(probe);
      await pgPool?.end();
    },
  };
}

/** A window as it stands (consume=false): would `take` more pass? */
function peeked(r: RateLimiterRes | null, take: number, points: number, durationSec: number, via: LimitVia): LimitOutcome {
  const used = r?.consumedPoints ?? 0;
  const resetMs = r?.msBeforeNext ?? durationSec * 1000;
  return { kind: used + take > points ? 'limited' : 'allowed', limit: points, remaining: Math.max(0, points - used), resetMs, via };
}

/** Resolves once Redis is ready or after timeoutMs (a slow start is not fatal: onStoreFailure covers it). */
export async function waitForStore(svc: RateLimiterService, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (svc.status().detail === 'redis' || svc.settings.store !== 'redis') return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
