import { describe, expect, it } from 'vitest';
import { policyFrom } from '../../../test/helpers/policy.js';
import type { Identity } from '../state.js';
import { planRateLimit, rateLimitHeaders } from './plan.js';

const user = (over: Partial<Identity> = {}): Identity => ({ username: 'alice', source: 'jwt', groups: [], roles: [], isServicePrincipal: false, ...over });
const cfg = policyFrom({
  rateLimit: {
    points: 100,
    durationSec: 60,
    groups: { integrations: { points: 1000, durationSec: 60 }, slow: { points: 10, durationSec: 60 }, burst: { points: 500, durationSec: 10 } },
    clients: { 'app-1': { points: 50, durationSec: 1 } },
  },
}).config.rateLimit;

describe('planRateLimit', () => {
  const rows: Array<[string, Identity, Partial<ReturnType<typeof planRateLimit>>]> = [
    ['user: default limit', user(), { key: 'user:alice', points: 100, durationSec: 60, source: 'rateLimit' }],
    ['API token: by token id, never the secret', user({ source: 'api-token', tokenId: 'tok1' }), { key: 'token:tok1', points: 100 }],
    ['token override wins', user({ tokenId: 'tok1', groups: ['integrations'], rateLimit: { points: 5, durationSec: 1 } }), { points: 5, durationSec: 1, source: 'token rateLimit' }],
    ['service principal: by issuer and client id', user({ username: 'svc', isServicePrincipal: true, clientId: 'app-9', issuer: 'entra' }), { key: 'client:entra:app-9', points: 100 }],
    ['client override', user({ isServicePrincipal: true, clientId: 'app-1', issuer: 'entra', groups: ['integrations'] }), { points: 50, durationSec: 1, source: 'rateLimit.clients.app-1' }],
    ['user via a client app is still limited per user', user({ clientId: 'app-1' }), { key: 'user:alice', points: 100 }],
    ['group override', user({ groups: ['jira-users', 'slow'] }), { points: 10, source: 'rateLimit.groups.slow' }],
    ['most generous group wins', user({ groups: ['slow', 'integrations', 'burst'] }), { points: 500, durationSec: 10, source: 'rateLimit.groups.burst' }],
  ];
  for (const [name, id, want] of rows) it(name, () => expect(planRateLimit(id, cfg)).toMatchObject(want));
});

describe('rateLimitHeaders', () => {
  it('allowed: RateLimit-* only', () =>
    expect(rateLimitHeaders({ limit: 10, remaining: 3, resetSec: 7, key: 'k' })).toEqual({ 'RateLimit-Limit': '10', 'RateLimit-Remaining': '3', 'RateLimit-Reset': '7' }));
  it('refused: plus Retry-After (at least 1)', () => expect(rateLimitHeaders({ limit: 10, remaining: 0, resetSec: 0, key: 'k' }, true)['Retry-After']).toBe('1'));
});
