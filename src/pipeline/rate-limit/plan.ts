// Whose bucket a request draws from and how big it is. Pure. The key is the credential identity
// (API token id, client id of a service principal, or the Jira user), never an IP address alone
// and never the token string itself.
import type { Config } from '../../config/schema.js';
import type { Identity, RateLimitInfo } from '../state.js';

export interface RatePlan {
  key: string;
  points: number;
  durationSec: number;
  /** Which setting chose the limit (verdict and refusal rule). */
  source: string;
  /** The limit as an entry of the rateLimit rule family (enforcement.rules "rateLimit:<entry>"). */
  entry: string;
}

type Limit = { points: number; durationSec: number };
const rate = (l: Limit) => l.points / l.durationSec;

/**
 * Limit precedence: the API token's own limit, then rateLimit.clients for a service principal's
 * client id, then the most generous rateLimit.groups entry among the identity's groups (group
 * overrides raise limits for tiers of users), then the default.
 */
export function planRateLimit(identity: Identity, cfg: Config['rateLimit']): RatePlan {
  const key = identity.tokenId !== undefined
    ? `token:${identity.tokenId}`
    : identity.isServicePrincipal && identity.clientId !== undefined
      ? `client:${identity.issuer ?? '-'}:${identity.clientId}`
      : `user:${identity.username}`;
  if (identity.rateLimit) return { key, ...identity.rateLimit, source: 'token rateLimit', entry: 'token' };
  const client = identity.isServicePrincipal && identity.clientId !== undefined ? cfg.clients[identity.clientId] : undefined;
  if (client) return { key, points: client.points, durationSec: client.durationSec, source: `rateLimit.clients.${identity.clientId}`, entry: `clients.${identity.clientId}` };
  let best: { name: string; limit: Limit } | undefined;
  for (const g of identity.groups) {
    const l = cfg.groups[g];
    if (l && (!best || rate(l) > rate(best.limit) || (rate(l) === rate(best.limit) && l.points > best.limit.points))) best = { name: g, limit: l };
  }
  if (best) return { key, points: best.limit.points, durationSec: best.limit.durationSec, source: `rateLimit.groups.${best.name}`, entry: `groups.${best.name}` };
  return { key, points: cfg.points, durationSec: cfg.durationSec, source: 'rateLimit', entry: 'default' };
}

/**
 * The RateLimit-* fields of draft-ietf-httpapi-ratelimit-headers (the separate-field form the
 * contract names; Reset is delta-seconds), plus Retry-After (RFC 9110 §10.2.3) when refused.
 */
export function rateLimitHeaders(info: RateLimitInfo, refused = false): Record<string, string> {
  const h: Record<string, string> = {
    'RateLimit-Limit': String(info.limit),
    'RateLimit-Remaining': String(info.remaining),
    'RateLimit-Reset': String(info.resetSec),
  };
  if (refused) h['Retry-After'] = String(Math.max(1, info.resetSec));
  return h;
}
