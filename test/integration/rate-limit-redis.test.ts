// Rate limits against a real redis-server started by the test: exact counts under parallel load,
// peeking without consuming, two sidecar processes (the real `node dist/main.js serve`, built by
// pretest) sharing one limit, and Redis killed mid-test following rateLimit.onStoreFailure.
import { rmSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { createLogger } from '../../src/log.js';
import { createRateLimiterService, type RateLimiterService } from '../../src/pipeline/rate-limit/limiter.js';
import { hasRedis, NO_REDIS_MESSAGE, startRedis, type TestRedis } from '../helpers/redis.js';
import { noteMissing } from '../helpers/missing.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';
import { baseConfig, merge, spawnSidecar, startTestSidecar, tempDir, type SpawnedSidecar } from '../helpers/sidecar.js';
import { validate } from '../../src/config/validate.js';

if (!hasRedis) noteMissing(`redis-server (${NO_REDIS_MESSAGE})`, 'rate-limit-redis.test.ts (Redis rate-limit store)', 'apt-get install -y redis-server (or REDIS_SERVER=/path/to/redis-server)');
const logger = createLogger('silent');

describe.skipIf(!hasRedis)('rate limits on Redis', () => {
  let redis: TestRedis;
  const services: RateLimiterService[] = [];
  const service = (onStoreFailure: 'insurance' | 'deny') => {
    const s = createRateLimiterService({ store: 'redis', redisUrl: redis.url, onStoreFailure, redisTimeoutMs: 1000 }, logger);
    services.push(s);
    return s;
  };
  const ready = (s: RateLimiterService) => until(() => s.status().detail === 'redis', 'redis ready');

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('exactly N of M parallel consumes pass, across two limiter instances sharing Redis', async () => {
    const a = service('deny');
    const b = service('deny');
    await Promise.all([ready(a), ready(b)]);
    const limit = { points: 7, durationSec: 60 };
    const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).check('user:parallel', limit, true)));
    expect(outs.filter((o) => o.kind === 'allowed').length).toBe(7);
    expect(outs.filter((o) => o.kind === 'limited').length).toBe(33);
    expect(outs.every((o) => o.kind !== 'unavailable' && o.via === 'redis')).toBe(true);
  });

  it('peeking (test mode) never consumes', async () => {
    const a = service('deny');
    await ready(a);
    const limit = { points: 2, durationSec: 60 };
    for (let i = 0; i < 5; i++) expect(await a.check('user:peek', limit, false)).toMatchObject({ kind: 'allowed', remaining: 2 });
    await a.check('user:peek', limit, true);
    await a.check('user:peek', limit, true);
    expect(await a.check('user:peek', limit, false)).toMatchObject({ kind: 'limited', remaining: 0 });
  });

  it('Redis gone: insurance keeps limiting in memory, deny answers unavailable; never unlimited', async () => {
    const insured = service('insurance');
    const strict = service('deny');
    await Promise.all([ready(insured), ready(strict)]);
    const limit = { points: 3, durationSec: 60 };
    expect((await insured.check('user:outage', limit, true)).kind).toBe('allowed');
    await redis.kill();
    await until(() => insured.status().detail !== 'redis' && strict.status().detail !== 'redis', 'clients notice the outage');
    expect(strict.status().ok).toBe(false);
    expect(insured.status()).toMatchObject({ ok: true });
    const outs = [];
    for (let i = 0; i < 6; i++) outs.push(await insured.check('user:outage', limit, true));
    expect(outs.map((o) => o.kind)).toEqual(['allowed', 'allowed', 'allowed', 'limited', 'limited', 'limited']);
    expect(outs[0]).toMatchObject({ via: 'insurance' });
    expect((await strict.check('user:outage', limit, true)).kind).toBe('unavailable');
    expect((await strict.check('user:outage', limit, false)).kind).toBe('unavailable');
    await redis.restart();
    await until(() => strict.status().detail === 'redis', 'reconnect after restart', 20_000);
    expect((await strict.check('user:outage-after', limit, true)).kind).toBe('allowed');
  });
});

describe.skipIf(!hasRedis)('two sidecar processes sharing a Redis limit', () => {
  let redis: TestRedis;
  let upstream: JiraUpstream;
  let issuer: TokenIssuer;
  let dir: string;
  const replicas: SpawnedSidecar[] = [];

  const spawnReplica = async (name: string, onStoreFailure: 'insurance' | 'deny', points: number) => {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
        rateLimit: { points, durationSec: 300, store: 'redis', redisUrl: redis.url, onStoreFailure, redisTimeoutMs: 1000 },
        audit: { enabled: false },
      }),
    );
    const r = await spawnSidecar({
      SIDECAR_CONFIG: file,
      SIDECAR_UPSTREAM: upstream.url,
      SIDECAR_DATA_DIR: path.join(dir, name),
      SIDECAR_ADMIN_PASSWORD: 'replica-admin-password-1',
    });
    replicas.push(r);
    return r;
  };
  const token = (user: string) => issuer.sign({ aud: 'jira-sidecar', sub: `id-${user}`, preferred_username: user, groups: ['jira-users'], idtyp: 'user' });
  const get = (r: SpawnedSidecar, tok: string) => rawRequest(r.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${tok}`]] });

  beforeAll(async () => {
    redis = await startRedis();
    upstream = await startJiraUpstream();
    issuer = await startTestIssuer();
    dir = tempDir('rl-replicas-');
  });
  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      r.child.kill('SIGTERM');
      await r.exited;
    }
    if (redis) await redis.restart();
  });
  afterAll(async () => {
    await redis?.kill();
    await upstream?.close();
    await issuer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('N of M parallel requests spread over both replicas pass', async () => {
    const [a, b] = await Promise.all([spawnReplica('a', 'deny', 6), spawnReplica('b', 'deny', 6)]);
    const tok = token('shared-user');
    const before = upstream.seen.length;
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => get(i % 2 ? a! : b!, tok)));
    expect(rs.filter((r) => r.status === 200).length).toBe(6);
    expect(rs.filter((r) => r.status === 429).length).toBe(24);
    expect(upstream.seen.length - before).toBe(6);
    const limited = rs.find((r) => r.status === 429)!;
    expect(JSON.parse(limited.body.toString()).error).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // one shared counter, keyed by the identity: never the token string
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('*');
      expect(keys).toEqual(['jas:rl:6:300:user:shared-user']);
      expect(keys.join()).not.toContain(tok.slice(0, 20));
    } finally {
      client.disconnect();
    }
  });

  it('Redis killed mid-test: insurance replicas keep a per-process limit, deny replicas answer 503', async () => {
    const [insured, strict] = await Promise.all([spawnReplica('insured', 'insurance', 4), spawnReplica('strict', 'deny', 4)]);
    const tok = token('outage-user');
    expect((await get(insured!, tok)).status).toBe(200);
    expect((await get(strict!, tok)).status).toBe(200);
    await redis.kill();
    // the first requests after the kill may still be on the dying connection; wait for refusals to settle
    await until(async () => (await get(strict!, tok)).status === 503, 'deny replica refuses with 503');
    const s = await get(strict!, tok);
    expect([s.status, JSON.parse(s.body.toString()).error]).toEqual([503, 'rate_limit_unavailable']);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get(insured!, token('outage-user-2'))).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
  });
});

describe.skipIf(!hasRedis)('the limiter follows config reloads and shutdown', () => {
  it('kept across reloads that keep the store (counters survive), rebuilt when the store changes, closed on shutdown', async () => {
    const redis = await startRedis();
    const upstream = await startJiraUpstream();
    const s = await startTestSidecar(upstream.url);
    try {
      const rt = s.runtime;
      const apply = (over: unknown) => {
        const v = validate(merge(baseConfig(upstream.url, s.dataDir), over));
        if (!v.ok) throw new Error(JSON.stringify(v.issues));
        rt.applyConfig(v.config);
      };
      const memory = rt.deps.services.rateLimiter!;
      expect(memory.settings.store).toBe('memory');
      await memory.check('user:reload', { points: 2, durationSec: 60 }, true);
      apply({ bypass: ['/rest/api/2/serverInfo'] });
      expect(rt.deps.services.rateLimiter).toBe(memory);
      expect(await memory.check('user:reload', { points: 2, durationSec: 60 }, false)).toMatchObject({ remaining: 1 });

      apply({ rateLimit: { store: 'redis', redisUrl: redis.url, onStoreFailure: 'deny' } });
      const onRedis = rt.deps.services.rateLimiter!;
      expect(onRedis).not.toBe(memory);
      await until(() => onRedis.status().detail === 'redis', 'redis ready');
      const ready = async () => (await fetch(`${s.adminUrl}/readyz`)).status;
      expect(await ready()).toBe(200);
      await redis.kill();
      await until(async () => (await ready()) === 503, '/readyz reports the store (deny mode)');
      const body = (await (await fetch(`${s.adminUrl}/readyz`)).json()) as { missing: string[] };
      expect(body.missing).toContain('rate-limit-store');
      await s.close();
      expect(onRedis.status().detail).toBe('closed'); // closed with the sidecar (rt.onClose)
    } finally {
      await s.close();
      await upstream.close();
      await redis.kill();
    }
  });
});
