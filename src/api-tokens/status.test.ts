import { describe, expect, it } from 'vitest';
import { apiTokenStatus, DAY_MS } from './status.js';

const t = (over: Partial<{ createdAt: number; expiresAt: number; revokedAt: number }> = {}) => ({ createdAt: 0, expiresAt: 90 * DAY_MS, ...over });

describe('apiTokenStatus', () => {
  it.each([
    ['fresh token', t(), 1, undefined, 'active'],
    ['one ms before expiry', t(), 90 * DAY_MS - 1, undefined, 'active'],
    ['at expiry', t(), 90 * DAY_MS, undefined, 'expired'],
    ['revoked', t({ revokedAt: 5 }), 10, undefined, 'revoked'],
    ['revoked wins over expired', t({ revokedAt: 5 }), 100 * DAY_MS, undefined, 'revoked'],
    ['max lifetime lowered below the stored expiry', t(), 31 * DAY_MS, 30, 'expired'],
    ['max lifetime raised: the stored expiry still holds', t(), 91 * DAY_MS, 365, 'expired'],
    ['within a lowered max lifetime', t(), 29 * DAY_MS, 30, 'active'],
  ] as const)('%s', (_name, token, now, maxDays, expected) => {
    expect(apiTokenStatus(token, now, maxDays)).toBe(expected);
  });
});
