// Rate limits counted in PostgreSQL (rateLimit.store: postgres, the store's database): exact counts
// under parallel load across two limiters (two replicas), peeking without consuming, the counter
// keyed by identity, and a database that does not answer following rateLimit.onStoreFailure.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createLogger } from '../../src/log.js';
import { createRateLimiterService, type RateLimiterService } from '../../src/pipeline/rate-limit/limiter.js';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import { validate } from '../../src/config/validate.js';
import { freshDatabase } from '../helpers/postgres.js';
import { until } from '../helpers/http.js';

const logger = createLogger('silent');
let db: { url: string; drop(): Promise<void> };
const services: RateLimiterService[] = [];
const service = (onStoreFailure: 'insurance' | 'deny', databaseUrl = db.url) => {
  const s = createRateLimiterService({ store: 'postgres', databaseUrl, onStoreFailure, redisTimeoutMs: 1000 }, logger);
  services.push(s);
  return s;
};

beforeAll(async () => {
  db = await freshDatabase('ratelimit');
  const { stores } = await openPostgresStores({ url: db.url, poolSize: 1 }); // migrates: rate_limits exists
  await stores.close();
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
});
afterAll(async () => {
  await db?.drop();
});

describe('rate limits in PostgreSQL', () => {
  it('exactly N of M parallel consumes pass, across two limiters on one database', async () => {
    const a = service('deny');
    const b = service('deny');
    const limit = { points: 7, durationSec: 60 };
    const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).check('user:parallel', limit, true)));
    expect(outs.filter((o) => o.kind === 'allowed').length).toBe(7);
    expect(outs.filter((o) => o.kind === 'limited').length).toBe(33);
    expect(outs.every((o) => o.kind !== 'unavailable' && o.via === 'postgres')).toBe(true);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const rows = (await c.query<{ key: string; points: number }>("SELECT key, points FROM rate_limits WHERE key LIKE 'jas:rl:7:60:%'")).rows;
      expect(rows).toEqual([{ key: 'jas:rl:7:60:user:parallel', points: 40 }]);
    } finally {
      await c.end();
    }
  });

  it('peeking (test mode) never consumes', async () => {
    const a = service('deny');
    const limit = { points: 2, durationSec: 60 };
    for (let i = 0; i < 5; i++) expect(await a.check('user:peek', limit, false)).toMatchObject({ kind: 'allowed', remaining: 2 });
    await a.check('user:peek', limit, true);
    await a.check('user:peek', limit, true);
    expect(await a.check('user:peek', limit, false)).toMatchObject({ kind: 'limited', remaining: 0 });
  });

  it('a database that does not answer: deny answers unavailable, insurance keeps limiting in memory; never unlimited', async () => {
    const dead = 'postgres://nobody:x@127.0.0.1:1/none';
    const strict = service('deny', dead);
    const insured = service('insurance', dead);
    const limit = { points: 3, durationSec: 60 };
    expect(await strict.check('user:x', limit, true)).toMatchObject({ kind: 'unavailable' });
    const outs = [];
    for (let i = 0; i < 6; i++) outs.push(await insured.check('user:x', limit, true));
    expect(outs.map((o) => o.kind)).toEqual(['allowed', 'allowed', 'allowed', 'limited', 'limited', 'limited']);
    await until(() => !strict.status().ok, 'the strict limiter reports the store');
    expect(insured.status()).toMatchObject({ ok: true });
  });

  it('the setting needs the store in PostgreSQL', () => {
    const v = validate({ rateLimit: { store: 'postgres' } });
    expect(v.ok ? [] : v.issues).toEqual([{ path: 'rateLimit.store', message: '"postgres" counts in the store\'s database: set store.kind to postgres (or SIDECAR_DATABASE_URL)' }]);
    expect(validate({ rateLimit: { store: 'postgres' }, store: { kind: 'postgres', url: db.url } }).ok).toBe(true);
  });
});
