// Replay simulates the candidate's rate-limit algorithm (issue 26): a token bucket refilled by the
// recorded times, the candidate's costs and exemptions.
import { describe, expect, it } from 'vitest';
import { policyFrom } from '../../test/helpers/policy.js';
import type { AuditRow } from '../store/audit-store.js';
import { Replayer } from './replay.js';

const row = (time: number, user: string, method = 'GET', path = '/rest/api/2/myself', groups: string[] = []): AuditRow =>
  ({
    time,
    method,
    path,
    user,
    decision: 'allow',
    stage: null,
    reason: 'allowed',
    rule: null,
    route: 'guarded',
    credentialKind: 'jwt',
    issuer: 'test',
    clientId: null,
    tokenId: null,
    clientIp: '10.0.0.1',
    facts: JSON.stringify({ v: 1, ...(groups.length ? { g: groups } : {}) }),
  }) as unknown as AuditRow;

const codes = (r: Replayer, rows: AuditRow[]) => rows.map((x) => {
  const v = r.judge(x);
  return 'undetermined' in v && v.undetermined ? `? ${v.undetermined}` : (v as { code: string }).code;
});

describe('replay with the token bucket', () => {
  it('a burst of the bucket, then one per refill; costs and exemptions of the candidate', () => {
    const p = policyFrom({
      rateLimit: { algorithm: 'token-bucket', maxRequests: 3, fillRate: 1, intervalSec: 10, costs: [{ path: '/rest/api/2/search', cost: 2 }], exemptions: { groups: ['bots'] } },
    });
    const r = new Replayer(p);
    const t = 1_000_000;
    expect(codes(r, [row(t, 'a'), row(t, 'a'), row(t, 'a'), row(t + 1, 'a'), row(t + 10_000, 'a'), row(t + 10_001, 'a')])).toEqual([
      'allowed', 'allowed', 'allowed', 'rate_limited', 'allowed', 'rate_limited',
    ]);
    expect(codes(r, [row(t, 'b', 'POST', '/rest/api/2/search'), row(t, 'b', 'POST', '/rest/api/2/search'), row(t, 'b')])).toEqual(['allowed', 'rate_limited', 'allowed']);
    expect(codes(r, Array.from({ length: 10 }, () => row(t, 'bot', 'GET', '/rest/api/2/myself', ['bots'])))).toEqual(Array(10).fill('allowed'));
  });
});
