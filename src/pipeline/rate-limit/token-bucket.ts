// Token buckets as Jira Data Center models its REST rate limits (issue 26): a bucket of `max` tokens
// per identity, refilled continuously by `fill` tokens per `intervalMs`; a request takes `cost`
// tokens or is refused. One atomic step per store, so "exactly N" holds across replicas:
//   memory      a Map in this process (synchronous: nothing can interleave);
//   Redis       one Lua script (refill by the server's TIME, take, answer);
//   PostgreSQL  one INSERT … ON CONFLICT DO UPDATE on rate_limit_buckets (migration 0011), the
//               refill computed from the stored (tokens, updated_at) under the row lock, the
//               database's clock.
// The clock is the store's (Redis TIME, PostgreSQL clock_timestamp()), so replicas whose clocks
// differ still agree.
import type { Redis } from 'ioredis';
import type pg from 'pg';

export interface BucketSpec {
  /** Bucket size (maxRequests). */
  max: number;
  /** Tokens added per interval (fillRate). */
  fill: number;
  intervalMs: number;
}

/** What one step answers: tokens left after it (fractional), and whether it took `cost`. */
export interface BucketState {
  granted: boolean;
  tokens: number;
}

export const specId = (s: BucketSpec) => `${s.max}:${s.fill}:${s.intervalMs / 1000}`;

/** Tokens after refilling from `at` to `now` (never above the bucket, never back in time). */
export const refill = (tokens: number, at: number, now: number, s: BucketSpec) => Math.min(s.max, tokens + (Math.max(0, now - at) * s.fill) / s.intervalMs);

/** The numbers headers need: whole tokens left, ms until full again, ms until `cost` tokens are there. */
export function bucketNumbers(tokens: number, cost: number, s: BucketSpec): { remaining: number; resetMs: number; retryMs: number } {
  const perToken = s.intervalMs / s.fill;
  // 1e-9: 0.9999999999 after float refills is a whole token that arithmetic nearly lost.
  const whole = Math.floor(tokens + 1e-9);
  return {
    remaining: Math.max(0, whole),
    resetMs: Math.ceil(Math.max(0, s.max - tokens) * perToken),
    retryMs: tokens + 1e-9 >= cost ? 0 : Math.ceil((cost - tokens) * perToken),
  };
}

/** The in-process store (also the insurance limiter of the shared ones). */
export class MemoryBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  take(key: string, s: BucketSpec, cost: number, consume: boolean): BucketState {
    const now = this.now();
    const id = `${specId(s)}:${key}`;
    const b = this.buckets.get(id);
    let tokens = b ? refill(b.tokens, b.at, now, s) : s.max;
    const granted = tokens + 1e-9 >= cost;
    if (consume) {
      if (granted) tokens = Math.max(0, tokens - cost);
      if (!b && this.buckets.size >= this.maxKeys) this.sweep(now, s);
      this.buckets.set(id, { tokens, at: now });
    }
    return { granted, tokens };
  }

  /** Full buckets carry no state: dropped when the map is at its bound (then the oldest half if still full). */
  private sweep(now: number, s: BucketSpec): void {
    for (const [k, v] of this.buckets) if (refill(v.tokens, v.at, now, s) >= s.max) this.buckets.delete(k);
    if (this.buckets.size < this.maxKeys) return;
    let n = this.buckets.size / 2;
    for (const k of this.buckets.keys()) {
      if (n-- <= 0) break;
      this.buckets.delete(k);
    }
  }
}

/**
 * KEYS[1] bucket; ARGV max, fill, intervalMs, cost, consume (1/0). Answers {granted 0/1, tokens as a
 * string} (Lua numbers become integers on the way out). The key expires once the bucket would be
 * full again: a missing key is a full bucket.
 */
const SCRIPT = `
local max = tonumber(ARGV[1])
local fill = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(v[1])
local at = tonumber(v[2])
if tokens == nil or at == nil then
  tokens = max
  at = now
end
if now > at then
  tokens = math.min(max, tokens + (now - at) * fill / interval)
end
local granted = 0
if tokens + 1e-9 >= cost then granted = 1 end
if ARGV[5] == '1' then
  if granted == 1 then tokens = math.max(0, tokens - cost) end
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', math.max(now, at))
  redis.call('PEXPIRE', KEYS[1], math.ceil((max - tokens) * interval / fill) + 1000)
end
return {granted, string.format('%.17g', tokens)}
`;

type WithBucket = Redis & { jasTokenBucket(key: string, max: number, fill: number, intervalMs: number, cost: number, consume: string): Promise<[number, string]> };

export function redisBuckets(redis: Redis) {
  if (!('jasTokenBucket' in redis)) redis.defineCommand('jasTokenBucket', { numberOfKeys: 1, lua: SCRIPT });
  const r = redis as WithBucket;
  return {
    async take(key: string, s: BucketSpec, cost: number, consume: boolean): Promise<BucketState> {
      const [granted, tokens] = await r.jasTokenBucket(key, s.max, s.fill, s.intervalMs, cost, consume ? '1' : '0');
      return { granted: granted === 1, tokens: Number(tokens) };
    },
  };
}

// $1 key, $2 max, $3 fill, $4 intervalMs, $5 cost. The refill is computed twice in the UPDATE (SET
// cannot name another SET expression); both see the same locked row. `granted` is stored so
// RETURNING can tell whether this statement took the tokens.
const REFILLED = 'LEAST($2::float8, b.tokens + GREATEST(0, EXCLUDED.updated_at - b.updated_at) * $3::float8 / $4::float8)';
const TAKE_SQL = `
INSERT INTO rate_limit_buckets AS b (key, tokens, updated_at, granted)
VALUES ($1, GREATEST(0, $2::float8 - $5::float8), (extract(epoch FROM clock_timestamp()) * 1000)::bigint, $2::float8 + 1e-9 >= $5::float8)
ON CONFLICT (key) DO UPDATE SET
  tokens = CASE WHEN ${REFILLED} + 1e-9 >= $5::float8 THEN GREATEST(0, ${REFILLED} - $5::float8) ELSE ${REFILLED} END,
  granted = ${REFILLED} + 1e-9 >= $5::float8,
  updated_at = GREATEST(b.updated_at, EXCLUDED.updated_at)
RETURNING granted, tokens`;
const PEEK_SQL = `SELECT tokens, updated_at, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now FROM rate_limit_buckets WHERE key = $1`;

export function postgresBuckets(pool: pg.Pool) {
  return {
    async take(key: string, s: BucketSpec, cost: number, consume: boolean): Promise<BucketState> {
      if (consume) {
        const row = (await pool.query<{ granted: boolean; tokens: number }>(TAKE_SQL, [key, s.max, s.fill, s.intervalMs, cost])).rows[0]!;
        return { granted: row.granted, tokens: Number(row.tokens) };
      }
      const row = (await pool.query<{ tokens: number; updated_at: string; now: string }>(PEEK_SQL, [key])).rows[0];
      const tokens = row ? refill(Number(row.tokens), Number(row.updated_at), Number(row.now), s) : s.max;
      return { granted: tokens + 1e-9 >= cost, tokens };
    },
  };
}
