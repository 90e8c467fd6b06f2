// Issue 26 (pure parts): the token bucket's arithmetic and memory store, planning with the
// algorithm, overrides, exemptions and costs, Jira DC's headers, and the settings' validation.
import { describe, expect, it } from 'vitest';
import { policyFrom } from '../../../test/helpers/policy.js';
import { validate } from '../../config/validate.js';
import { createLogger } from '../../log.js';
import type { Identity } from '../state.js';
import { createRateLimiterService } from './limiter.js';
import { costOf, exemptionOf, planRateLimit, rateLimitHeaders } from './plan.js';
import { bucketNumbers, MemoryBuckets, refill } from './token-bucket.js';

const user = (over: Partial<Identity> = {}): Identity => ({ username: 'alice', source: 'jwt', groups: [], roles: [], isServicePrincipal: false, ...over });

describe('token bucket arithmetic', () => {
  const spec = { max: 10, fill: 2, intervalMs: 1000 };
  it('refills continuously, never above the bucket, never back in time', () => {
    expect(refill(0, 0, 500, spec)).toBe(1);
    expect(refill(3, 0, 60_000, spec)).toBe(10);
    expect(refill(3, 1000, 500, spec)).toBe(3);
  });
  it('numbers: whole tokens left, ms until full, ms until `cost` tokens', () => {
    expect(bucketNumbers(4.5, 1, spec)).toEqual({ remaining: 4, resetMs: 2750, retryMs: 0 });
    expect(bucketNumbers(0.5, 3, spec)).toEqual({ remaining: 0, resetMs: 4750, retryMs: 1250 });
  });
  it('memory: a burst of exactly the bucket, then one token per 1/fill of the interval; peeking never takes', () => {
    let now = 1_000_000;
    const m = new MemoryBuckets(() => now);
    expect(m.take('k', spec, 1, false)).toEqual({ granted: true, tokens: 10 });
    const burst = Array.from({ length: 15 }, () => m.take('k', spec, 1, true).granted);
    expect(burst.filter(Boolean).length).toBe(10);
    expect(m.take('k', spec, 1, true).granted).toBe(false);
    now += 499;
    expect(m.take('k', spec, 1, true).granted).toBe(false);
    now += 1;
    expect(m.take('k', spec, 1, true)).toMatchObject({ granted: true });
    now += 1000; // two tokens
    expect(m.take('k', spec, 3, true).granted).toBe(false); // a refused cost takes nothing
    expect(m.take('k', spec, 2, true).granted).toBe(true);
    expect(m.take('other', spec, 10, true).granted).toBe(true); // per key
  });
  it('memory store: bounded (full buckets are dropped first)', () => {
    let now = 0;
    const m = new MemoryBuckets(() => now, 4);
    for (let i = 0; i < 4; i++) m.take(`k${i}`, spec, 1, true);
    now += 60_000; // all full again
    m.take('new', spec, 10, true);
    expect(m.take('new', spec, 1, false).granted).toBe(false); // the new one kept its state
  });
});

describe('the limiter service, memory store, token bucket', () => {
  it('allowed/limited with remaining and retry, cost taken, window cost counted as points', async () => {
    const svc = createRateLimiterService({ store: 'memory', onStoreFailure: 'deny', redisTimeoutMs: 1000 }, createLogger('silent'));
    const bucket = { points: 5, durationSec: 60, fillRate: 1 };
    expect(await svc.check('u', bucket, true, 3)).toMatchObject({ kind: 'allowed', limit: 5, remaining: 2, via: 'memory' });
    const refused = await svc.check('u', bucket, true, 3);
    expect(refused).toMatchObject({ kind: 'limited', remaining: 2 });
    expect(refused.kind === 'limited' && refused.retryMs).toBeGreaterThan(59_000); // one more token: 60 s
    const window = { points: 5, durationSec: 60 };
    expect(await svc.check('w', window, true, 4)).toMatchObject({ kind: 'allowed', remaining: 1 });
    expect(await svc.check('w', window, false, 2)).toMatchObject({ kind: 'limited' });
    expect(await svc.check('w', window, false, 1)).toMatchObject({ kind: 'allowed' });
    await svc.close();
  });

  it('answers at once, not with a promise: the decision stages then finish in the request\'s own turn', async () => {
    const svc = createRateLimiterService({ store: 'memory', onStoreFailure: 'deny', redisTimeoutMs: 1000 }, createLogger('silent'));
    const window = { points: 2, durationSec: 60 };
    const bucket = { points: 2, durationSec: 60, fillRate: 1 };
    const answers = [svc.check('w', window, true), svc.check('w', window, true), svc.check('w', window, true), svc.check('w', window, false), svc.check('b', bucket, true, 2), svc.check('b', bucket, true)];
    for (const a of answers) expect(a).not.toBeInstanceOf(Promise);
    expect(answers.map((a) => a instanceof Promise || a.kind)).toEqual(['allowed', 'allowed', 'limited', 'limited', 'allowed', 'limited']);
    expect(answers[2]).toMatchObject({ kind: 'limited', limit: 2, remaining: 0, via: 'memory' });
    await svc.close();
  });
});

describe('planning (issue 26)', () => {
  const cfg = policyFrom({
    rateLimit: {
      algorithm: 'token-bucket',
      maxRequests: 100,
      fillRate: 10,
      intervalSec: 1,
      groups: { scripts: { maxRequests: 20, fillRate: 1, intervalSec: 1 }, legacy: { points: 300, durationSec: 60 }, both: { points: 1, durationSec: 1, maxRequests: 50, fillRate: 50, intervalSec: 1 } },
      clients: { 'app-1': { maxRequests: 40, fillRate: 4, intervalSec: 2 } },
      exemptions: { users: ['jira-bot'], groups: ['jira-administrators'] },
      costs: [
        { method: 'POST', path: '/rest/api/2/search', cost: 5 },
        { path: '/rest/api/2/search', cost: 4 },
        { path: '/rest/api/2/issue/bulk/*', cost: 10 },
        { path: '/rest/api/2/attachment/*', cost: 300 },
      ],
    },
  }).config.rateLimit;

  it('default bucket; overrides as buckets; a window-shaped override becomes a bucket of the same long-run rate', () => {
    expect(planRateLimit(user(), cfg)).toMatchObject({ key: 'user:alice', points: 100, durationSec: 1, fillRate: 10, entry: 'default' });
    expect(planRateLimit(user({ groups: ['scripts'] }), cfg)).toMatchObject({ points: 20, fillRate: 1, source: 'rateLimit.groups.scripts' });
    expect(planRateLimit(user({ groups: ['legacy'] }), cfg)).toMatchObject({ points: 300, durationSec: 60, fillRate: 300 });
    expect(planRateLimit(user({ groups: ['both'] }), cfg)).toMatchObject({ points: 50, durationSec: 1, fillRate: 50 });
    // most generous by fill rate per second: both (50/s) over legacy (5/s) over scripts (1/s)
    expect(planRateLimit(user({ groups: ['scripts', 'legacy', 'both'] }), cfg)).toMatchObject({ source: 'rateLimit.groups.both' });
    expect(planRateLimit(user({ isServicePrincipal: true, clientId: 'app-1', issuer: 'e' }), cfg)).toMatchObject({ key: 'client:e:app-1', points: 40, fillRate: 4, durationSec: 2 });
    expect(planRateLimit(user({ tokenId: 't1', rateLimit: { points: 7, durationSec: 60 } }), cfg)).toMatchObject({ key: 'token:t1', points: 7, fillRate: 7, durationSec: 60 });
  });
  it('window algorithm: no fillRate (today\'s behaviour)', () => {
    const w = policyFrom({ rateLimit: { points: 9, durationSec: 30 } }).config.rateLimit;
    expect(planRateLimit(user(), w)).toEqual({ key: 'user:alice', points: 9, durationSec: 30, source: 'rateLimit', entry: 'default' });
  });
  it('exemptions by user and by group', () => {
    expect(exemptionOf(user({ username: 'jira-bot' }), cfg)).toBe('rateLimit.exemptions.users (jira-bot)');
    expect(exemptionOf(user({ groups: ['x', 'jira-administrators'] }), cfg)).toBe('rateLimit.exemptions.groups (jira-administrators)');
    expect(exemptionOf(user({ groups: ['x'] }), cfg)).toBeUndefined();
  });
  it('costs: first match wins, method-specific, prefix patterns, capped at the limit, default 1', () => {
    expect(costOf('POST', '/rest/api/2/search', cfg, 100)).toEqual({ cost: 5, rule: 'rateLimit.costs[0]' });
    expect(costOf('GET', '/rest/api/2/search', cfg, 100)).toEqual({ cost: 4, rule: 'rateLimit.costs[1]' });
    expect(costOf('POST', '/rest/api/2/issue/bulk', cfg, 100)).toMatchObject({ cost: 10 });
    expect(costOf('POST', '/rest/api/2/issue/bulkx', cfg, 100)).toEqual({ cost: 1 });
    expect(costOf('GET', '/rest/api/2/attachment/10', cfg, 100)).toMatchObject({ cost: 100 });
    expect(costOf('GET', '/rest/api/2/myself', cfg, 100)).toEqual({ cost: 1 });
  });
});

describe("Jira DC's headers", () => {
  const bucket = { fillRate: 10, intervalSec: 1, retrySec: 0 };
  it('token bucket, allowed: RateLimit-* and X-RateLimit-*, Retry-After 0 while tokens remain', () =>
    expect(rateLimitHeaders({ limit: 100, remaining: 42, resetSec: 6, key: 'k', bucket })).toEqual({
      'RateLimit-Limit': '100',
      'RateLimit-Remaining': '42',
      'RateLimit-Reset': '6',
      'X-RateLimit-Limit': '100',
      'X-RateLimit-Remaining': '42',
      'X-RateLimit-Interval-Seconds': '1',
      'X-RateLimit-FillRate': '10',
      'Retry-After': '0',
    }));
  it('token bucket, refused: Retry-After is the seconds until enough tokens (at least 1)', () => {
    expect(rateLimitHeaders({ limit: 100, remaining: 0, resetSec: 10, key: 'k', bucket: { ...bucket, retrySec: 3 } }, true)['Retry-After']).toBe('3');
    expect(rateLimitHeaders({ limit: 100, remaining: 0, resetSec: 10, key: 'k', bucket }, true)['Retry-After']).toBe('1');
  });
});

describe('validation of the new settings (bad input is refused with the field named)', () => {
  const issues = (rateLimit: unknown) => {
    const v = validate({ rateLimit });
    return v.ok ? [] : v.issues.map((i) => i.path);
  };
  it('accepts the issue\'s example', () =>
    expect(
      issues({
        algorithm: 'token-bucket',
        maxRequests: 100,
        fillRate: 10,
        intervalSec: 1,
        exemptions: { users: ['jira-bot'], groups: ['admins'] },
        costs: [{ method: 'POST', path: '/rest/api/2/search', cost: 5 }, { path: '/rest/api/2/issue/bulk/*', cost: 10 }, { path: '/rest/api/2/attachment/*', cost: 3 }],
      }),
    ).toEqual([]));
  it.each([
    ['a bucket smaller than its fill rate', { algorithm: 'token-bucket', maxRequests: 5, fillRate: 10 }, 'rateLimit.maxRequests'],
    ['an override bucket smaller than its fill rate', { algorithm: 'token-bucket', groups: { g: { maxRequests: 1, fillRate: 2, intervalSec: 1 } } }, 'rateLimit.groups.g.maxRequests'],
    ['half a bucket override', { algorithm: 'token-bucket', clients: { c: { maxRequests: 10 } } }, 'rateLimit.clients.c'],
    ['a bucket-only override with the window', { groups: { g: { maxRequests: 10, fillRate: 1, intervalSec: 1 } } }, 'rateLimit.groups.g'],
    ['a cost below 1', { costs: [{ path: '/rest/api/2/search', cost: 0 }] }, 'rateLimit.costs[0].cost'],
    ['an unknown route pattern', { costs: [{ path: '/rest/*/search', cost: 2 }] }, 'rateLimit.costs[0].path'],
    ['not a path', { costs: [{ path: 'search', cost: 2 }] }, 'rateLimit.costs[0].path'],
    ['a lower-case method', { costs: [{ method: 'post', path: '/x', cost: 2 }] }, 'rateLimit.costs[0].method'],
    ['the method twice', { costs: [{ method: 'POST', path: 'POST /x', cost: 2 }] }, 'rateLimit.costs[0].path'],
    ['an unknown algorithm', { algorithm: 'leaky' }, 'rateLimit.algorithm'],
  ])('%s', (_name, rl, path) => expect(issues(rl)).toContain(path));
});
