// Issue 26 through real stores and real sidecars: the token bucket (rateLimit.algorithm
// "token-bucket") is exact across two limiters and two sidecar processes sharing Redis and sharing
// PostgreSQL, costs are taken atomically, peeking takes nothing, a failing store follows
// onStoreFailure; Jira DC's X-RateLimit-* headers, exemptions, and the cost in the audit row and in
// POST /api/test's decision, through the proxy.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { createLogger } from '../../src/log.js';
import { createRateLimiterService, type RateLimiterService, type StoreSettings } from '../../src/pipeline/rate-limit/limiter.js';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import { validate } from '../../src/config/validate.js';
import { parseFacts } from '../../src/pipeline/audit/facts.js';
import type { AuditRow } from '../../src/store/audit-store.js';
import { hasRedis, NO_REDIS_MESSAGE, startRedis, type TestRedis } from '../helpers/redis.js';
import { freshDatabase } from '../helpers/postgres.js';
import { noteMissing } from '../helpers/missing.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until, type RawResponse } from '../helpers/http.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { baseConfig, merge, spawnSidecar, startTestSidecar, tempDir, type SpawnedSidecar, type TestSidecar } from '../helpers/sidecar.js';

if (!hasRedis) noteMissing(`redis-server (${NO_REDIS_MESSAGE})`, 'rate-limit-token-bucket.test.ts (token bucket on Redis)', 'apt-get install -y redis-server (or REDIS_SERVER=/path/to/redis-server)');
process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;
const logger = createLogger('silent');
// A bucket that refills one token an hour: nothing comes back while a test runs.
const SLOW = (max: number) => ({ points: max, durationSec: 3600, fillRate: 1 });

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let dir: string;
beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  dir = tempDir('rl-bucket-');
});
afterAll(async () => {
  await upstream?.close();
  await issuer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const userToken = (user: string, groups = ['jira-users']) => issuer.sign({ aud: 'jira-sidecar', sub: `id-${user}`, preferred_username: user, groups, idtyp: 'user' });
const jwtIssuers = () => ({ issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] });
const get = (base: string, tok: string, p = '/rest/api/2/myself', method = 'GET') => rawRequest(base, { method, path: p, headers: [['Authorization', `Bearer ${tok}`]] });

/** The limiter contract on one shared store, whichever it is. */
function storeContract(name: string, settings: () => StoreSettings, killStore: () => Promise<StoreSettings>) {
  const services: RateLimiterService[] = [];
  const service = (over: Partial<StoreSettings> = {}) => {
    const s = createRateLimiterService({ ...settings(), ...over }, logger);
    services.push(s);
    return s;
  };
  /** Connected (Redis answers 'ready' once the client has connected). */
  const live = async () => {
    const s = service();
    await until(() => s.status().detail === name, `${name} ready`);
    return s;
  };
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close();
  });

  it(`${name}: exactly the bucket of M parallel takes passes, across two limiters`, async () => {
    const [a, b] = await Promise.all([live(), live()]);
    const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).check('user:parallel', SLOW(7), true)));
    expect(outs.filter((o) => o.kind === 'allowed').length).toBe(7);
    expect(outs.filter((o) => o.kind === 'limited').length).toBe(33);
    expect(outs.every((o) => o.kind !== 'unavailable' && o.via === name)).toBe(true);
    const limited = outs.find((o) => o.kind === 'limited');
    expect(limited).toMatchObject({ remaining: 0, limit: 7 });
    expect(limited!.kind === 'limited' && limited!.retryMs).toBeGreaterThan(3_000_000); // about an hour for one token
  });

  it(`${name}: costs are taken whole: a bucket of 10 serves exactly 3 requests of cost 3`, async () => {
    const [a, b] = await Promise.all([live(), live()]);
    const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check('user:cost', SLOW(10), true, 3)));
    expect(outs.filter((o) => o.kind === 'allowed').length).toBe(3);
    // one token is left: a request of cost 1 still passes, one of cost 2 does not
    expect(await a.check('user:cost', SLOW(10), false, 2)).toMatchObject({ kind: 'limited', remaining: 1 });
    expect(await a.check('user:cost', SLOW(10), true, 1)).toMatchObject({ kind: 'allowed', remaining: 0 });
  });

  it(`${name}: peeking never takes a token; refills over time`, async () => {
    const a = await live();
    for (let i = 0; i < 5; i++) expect(await a.check('user:peek', SLOW(2), false)).toMatchObject({ kind: 'allowed', remaining: 2 });
    await a.check('user:peek', SLOW(2), true);
    await a.check('user:peek', SLOW(2), true);
    expect(await a.check('user:peek', SLOW(2), false)).toMatchObject({ kind: 'limited', remaining: 0 });
    // 20 tokens a second: empty after the burst, one back within 50 ms
    const fast = { points: 20, durationSec: 1, fillRate: 20 };
    for (let i = 0; i < 20; i++) await a.check('user:refill', fast, true);
    await new Promise((r) => setTimeout(r, 120));
    expect(await a.check('user:refill', fast, true)).toMatchObject({ kind: 'allowed' });
  });

  it(`${name}: a store that fails follows onStoreFailure (deny: unavailable; insurance: a bucket in memory); never unlimited`, async () => {
    const dead = await killStore();
    const strict = service({ ...dead, onStoreFailure: 'deny' });
    const insured = service({ ...dead, onStoreFailure: 'insurance' });
    expect(await strict.check('user:x', SLOW(3), true)).toMatchObject({ kind: 'unavailable' });
    const outs = [];
    for (let i = 0; i < 6; i++) outs.push(await insured.check('user:x', SLOW(3), true));
    expect(outs.map((o) => o.kind)).toEqual(['allowed', 'allowed', 'allowed', 'limited', 'limited', 'limited']);
    expect(outs[0]).toMatchObject({ via: 'insurance' });
  });
}

/** Two sidecar processes on one shared store: exactly maxRequests of a parallel burst reach Jira. */
async function twoReplicas(name: string, env: Record<string, string>, rateLimit: Record<string, unknown>) {
  const replicas: SpawnedSidecar[] = [];
  try {
    for (const r of ['a', 'b']) {
      const file = path.join(dir, `${name}-${r}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          jwt: jwtIssuers(),
          rateLimit: { algorithm: 'token-bucket', maxRequests: 6, fillRate: 1, intervalSec: 3600, onStoreFailure: 'deny', ...rateLimit },
          audit: { enabled: false },
        }),
      );
      replicas.push(await spawnSidecar({ SIDECAR_CONFIG: file, SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATA_DIR: path.join(dir, `${name}-${r}`), SIDECAR_ADMIN_PASSWORD: 'replica-admin-password-1', ...env }));
    }
    const tok = userToken(`${name}-user`);
    const before = upstream.seen.length;
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => get(replicas[i % 2]!.proxyUrl, tok)));
    expect(rs.filter((r) => r.status === 200).length).toBe(6);
    expect(rs.filter((r) => r.status === 429).length).toBe(24);
    expect(upstream.seen.length - before).toBe(6);
    const ok = rs.find((r) => r.status === 200)!;
    expect(ok.headers['x-ratelimit-limit']).toBe('6');
    expect(ok.headers['x-ratelimit-fillrate']).toBe('1');
    expect(ok.headers['x-ratelimit-interval-seconds']).toBe('3600');
    const refused = rs.find((r) => r.status === 429)!;
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
    expect(refused.headers['ratelimit-limit']).toBe('6');
    const body = JSON.parse(refused.body.toString());
    expect(body.error).toBe('rate_limited');
    expect(body.errorMessages[0]).toContain('rate_limited');
  } finally {
    for (const r of replicas) {
      r.child.kill('SIGTERM');
      await r.exited;
    }
  }
}

describe.skipIf(!hasRedis)('token bucket on Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.kill();
  });
  const ready = (s: RateLimiterService) => until(() => s.status().detail === 'redis', 'redis ready');
  storeContract(
    'redis',
    () => ({ store: 'redis', redisUrl: redis.url, onStoreFailure: 'deny', redisTimeoutMs: 1000 }),
    async () => ({ store: 'redis', redisUrl: 'redis://127.0.0.1:1', onStoreFailure: 'deny', redisTimeoutMs: 300 }),
  );

  it('one key per identity and bucket size, never the token; it expires once the bucket would be full', async () => {
    const s = createRateLimiterService({ store: 'redis', redisUrl: redis.url, onStoreFailure: 'deny', redisTimeoutMs: 1000 }, logger);
    try {
      await ready(s);
      await s.check('user:keyed', { points: 5, durationSec: 10, fillRate: 1 }, true);
      const c = new Redis(redis.url);
      try {
        expect(await c.keys('jas:tb:*user:keyed')).toEqual(['jas:tb:5:1:10:user:keyed']);
        const ttl = await c.pttl('jas:tb:5:1:10:user:keyed');
        expect(ttl).toBeGreaterThan(9000);
        expect(ttl).toBeLessThanOrEqual(11_000);
      } finally {
        c.disconnect();
      }
    } finally {
      await s.close();
    }
  });

  it('two sidecar processes sharing Redis: exactly maxRequests of 30 parallel requests pass, with Jira DC headers', { timeout: 60_000 }, async () => {
    await twoReplicas('redis', {}, { store: 'redis', redisUrl: redis.url });
  });
});

describe('token bucket in PostgreSQL', () => {
  let db: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    db = await freshDatabase('bucket');
    const { stores } = await openPostgresStores({ url: db.url, poolSize: 1 }); // migrates: rate_limit_buckets exists
    await stores.close();
  });
  afterAll(async () => {
    await db?.drop();
  });
  storeContract(
    'postgres',
    () => ({ store: 'postgres', databaseUrl: db.url, onStoreFailure: 'deny', redisTimeoutMs: 1000 }),
    async () => ({ store: 'postgres', databaseUrl: 'postgres://nobody:x@127.0.0.1:1/none', onStoreFailure: 'deny', redisTimeoutMs: 1000 }),
  );

  it('the row holds (tokens, updated_at) by identity; the migration made the table', async () => {
    const s = createRateLimiterService({ store: 'postgres', databaseUrl: db.url, onStoreFailure: 'deny', redisTimeoutMs: 1000 }, logger);
    try {
      await s.check('user:row', { points: 5, durationSec: 3600, fillRate: 1 }, true, 2);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const rows = (await c.query<{ key: string; tokens: number }>("SELECT key, tokens FROM rate_limit_buckets WHERE key LIKE '%user:row'")).rows;
        expect(rows.length).toBe(1);
        expect(rows[0]!.key).toBe('jas:tb:5:1:3600:user:row');
        expect(rows[0]!.tokens).toBeCloseTo(3, 2);
        expect((await c.query("SELECT 1 FROM schema_migrations WHERE version = '0011_token_bucket.sql'")).rowCount).toBe(1);
      } finally {
        await c.end();
      }
    } finally {
      await s.close();
    }
  });

  it('two sidecar processes sharing PostgreSQL: exactly maxRequests of 30 parallel requests pass, with Jira DC headers', { timeout: 60_000 }, async () => {
    const shared = await freshDatabase('bucket_replicas');
    try {
      await twoReplicas('postgres', { SIDECAR_DATABASE_URL: shared.url }, { store: 'postgres' });
    } finally {
      await shared.drop();
    }
  });
});

describe('through the proxy (memory store): headers, report mode, exemptions, costs in the audit row and /api/test', () => {
  let sc: TestSidecar;
  let admin: AdminClient;
  const configure = (rateLimit: Record<string, unknown>) => {
    const v = validate(merge(baseConfig(upstream.url, sc.dataDir), { jwt: jwtIssuers(), audit: { flushIntervalMs: 10 }, rateLimit }));
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    sc.runtime.applyConfig(v.config);
  };
  const rowOf = async (r: RawResponse): Promise<AuditRow> => {
    const id = String(r.headers['x-request-id']);
    let row: AuditRow | undefined;
    await until(async () => {
      row = (await sc.runtime.stores.audit.page({}, { limit: 100 })).find((x) => x.requestId === id);
      return row !== undefined;
    }, `audit row of ${id}`);
    return row!;
  };
  const bucket = { algorithm: 'token-bucket', maxRequests: 3, fillRate: 1, intervalSec: 3600 };

  beforeAll(async () => {
    sc = await startTestSidecar(upstream.url, { jwt: jwtIssuers() });
    admin = new AdminClient(sc.adminUrl);
    expect((await admin.login()).status).toBe(200);
  });
  afterAll(async () => {
    await sc?.close();
  });

  it('token bucket: X-RateLimit-* and RateLimit-* on every answer, Retry-After 0 while tokens remain, then 429', async () => {
    configure(bucket);
    const tok = userToken('hdr-user');
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await get(sc.proxyUrl, tok));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(rs.map((r) => r.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    expect(rs[0]!.headers).toMatchObject({ 'x-ratelimit-limit': '3', 'x-ratelimit-interval-seconds': '3600', 'x-ratelimit-fillrate': '1', 'retry-after': '0', 'ratelimit-limit': '3', 'ratelimit-remaining': '2' });
    expect(Number(rs[2]!.headers['retry-after'])).toBeGreaterThan(3000); // empty: the next token is an hour away
    expect(Number(rs[3]!.headers['retry-after'])).toBeGreaterThan(3000);
  });

  it('window mode keeps today\'s headers only', async () => {
    configure({ points: 5, durationSec: 60 });
    const r = await get(sc.proxyUrl, userToken('window-user'));
    expect(r.headers['ratelimit-limit']).toBe('5');
    expect(Object.keys(r.headers).filter((h) => h.startsWith('x-ratelimit') || h === 'retry-after')).toEqual([]);
  });

  it('report mode: counted, never refused, no rate-limit header at all', async () => {
    configure({ ...bucket, mode: 'report' });
    const tok = userToken('report-user');
    const rs = [];
    for (let i = 0; i < 5; i++) rs.push(await get(sc.proxyUrl, tok));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    for (const r of rs) expect(Object.keys(r.headers).filter((h) => /ratelimit|retry-after/.test(h))).toEqual([]);
    expect((await rowOf(rs[4]!)).wouldDeny).toBe('rate_limited');
  });

  it('exempt users and groups are never limited, in both algorithms; the decision says so', async () => {
    for (const algorithm of ['token-bucket', 'window']) {
      configure({ ...bucket, algorithm, points: 3, durationSec: 3600, exemptions: { users: [`bot-${algorithm}`], groups: ['jira-administrators'] } });
      const bot = userToken(`bot-${algorithm}`);
      const adminUser = userToken(`adm-${algorithm}`, ['jira-users', 'jira-administrators']);
      const plain = userToken(`plain-${algorithm}`);
      const statuses = { bot: [] as number[], adm: [] as number[], plain: [] as number[] };
      for (let i = 0; i < 6; i++) {
        statuses.bot.push((await get(sc.proxyUrl, bot)).status);
        statuses.adm.push((await get(sc.proxyUrl, adminUser)).status);
        statuses.plain.push((await get(sc.proxyUrl, plain)).status);
      }
      expect(statuses, algorithm).toEqual({ bot: [200, 200, 200, 200, 200, 200], adm: [200, 200, 200, 200, 200, 200], plain: [200, 200, 200, 429, 429, 429] });
      const r = await get(sc.proxyUrl, bot);
      expect(Object.keys(r.headers).filter((h) => /ratelimit|retry-after/.test(h))).toEqual([]);
      const t = await admin.call('POST', '/api/test', { token: adminUser, method: 'GET', path: '/rest/api/2/myself' });
      expect(t.body.decision.allow).toBe(true);
      expect(t.body.decision.verdicts.find((v: { stage: string }) => v.stage === 'rate-limit')).toMatchObject({
        rule: 'rateLimit.exemptions',
        outcome: 'pass',
        detail: 'exempt: rateLimit.exemptions.groups (jira-administrators); never limited',
      });
    }
  });

  it('costs: taken from the bucket, shown in /api/test (without taking) and in the audit row (facts rc)', async () => {
    configure({ ...bucket, maxRequests: 10, costs: [{ method: 'POST', path: '/rest/api/2/search', cost: 5 }, { path: '/rest/api/2/issue/bulk/*', cost: 10 }] });
    const tok = userToken('cost-user');
    const probe = async () => (await admin.call('POST', '/api/test', { token: tok, method: 'POST', path: '/rest/api/2/search' })).body.decision;
    for (let i = 0; i < 2; i++) {
      const d = await probe();
      expect(d.allow).toBe(true);
      expect(d.rateLimit).toMatchObject({ cost: 5, limit: 10, remaining: 10 });
      expect(d.verdicts.find((v: { stage: string }) => v.stage === 'rate-limit').detail).toContain('cost 5 (rateLimit.costs[0])');
    }
    const search = () => rawRequest(sc.proxyUrl, { method: 'POST', path: '/rest/api/2/search', headers: [['Authorization', `Bearer ${tok}`], ['Content-Type', 'application/json']], body: '{"jql":"project = X"}' });
    const first = await search();
    expect([first.status, first.headers['x-ratelimit-remaining']]).toEqual([200, '5']);
    expect(parseFacts((await rowOf(first)).facts)?.rc).toBe(5);
    const cheap = await get(sc.proxyUrl, tok); // cost 1: no rc in the row
    expect([cheap.status, cheap.headers['x-ratelimit-remaining']]).toEqual([200, '4']);
    expect(parseFacts((await rowOf(cheap)).facts)?.rc).toBeUndefined();
    const refused = await search(); // 4 left, 5 needed
    expect(refused.status).toBe(429);
    expect(parseFacts((await rowOf(refused)).facts)?.rc).toBe(5);
    expect((await probe()).rateLimit).toMatchObject({ cost: 5, remaining: 4 });
    // the bulk route costs more than the bucket holds: it takes the whole bucket, so never passes before a refill
    const bulk = await admin.call('POST', '/api/test', { token: userToken('bulk-user'), method: 'POST', path: '/rest/api/2/issue/bulk' });
    expect(bulk.body.decision.rateLimit).toMatchObject({ cost: 10, remaining: 10 });
    expect(bulk.body.decision.allow).toBe(true);
  });

  it('window mode counts a cost as that many points', async () => {
    configure({ points: 6, durationSec: 3600, costs: [{ path: '/rest/api/2/search', cost: 4 }] });
    const tok = userToken('window-cost');
    const statuses = [(await get(sc.proxyUrl, tok, '/rest/api/2/search')).status];
    for (let i = 0; i < 3; i++) statuses.push((await get(sc.proxyUrl, tok)).status);
    expect(statuses).toEqual([200, 200, 200, 429]); // 4 + 1 + 1 points, then over
  });
});
