// Is a stored API token usable right now? Pure: plain data in, plain data out (the verifier, the
// CLI listing and the admin API all judge a token with this one function).

import type { ApiTokenStatus } from '../admin/wire.js';
export type { ApiTokenStatus };

export const DAY_MS = 86_400_000;

/**
 * Revocation wins over expiry (a revoked token says so even after it would have expired). The
 * expiry is the earlier of the stored expires_at and created_at + the *current* maxLifetimeDays,
 * so lowering apiTokens.maxLifetimeDays also shortens tokens minted under the old, longer limit.
 *   {createdAt: 0, expiresAt: 90 days}, now = 31 days, maxLifetimeDays 30 -> 'expired'
 */
export function apiTokenStatus(
  t: { createdAt: number; expiresAt: number; revokedAt?: number },
  nowMs: number,
  maxLifetimeDays?: number,
): ApiTokenStatus {
  if (t.revokedAt !== undefined) return 'revoked';
  return nowMs >= effectiveExpiry(t, maxLifetimeDays) ? 'expired' : 'active';
}

export function effectiveExpiry(t: { createdAt: number; expiresAt: number }, maxLifetimeDays?: number): number {
  return maxLifetimeDays === undefined ? t.expiresAt : Math.min(t.expiresAt, t.createdAt + maxLifetimeDays * DAY_MS);
}
