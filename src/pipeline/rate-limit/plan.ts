// Whose bucket a request draws from and how big it is. Pure. The key is the credential identity
// (API token id, client id of a service principal, or the Jira user), never an IP address alone
// and never the token string itself.
import type { Config } from '../../config/schema.js';
import type { Identity, RateLimitInfo } from '../state.js';
import { matchesPattern, parsePathPattern, type PathPattern } from '../path-pattern.js';

export interface RatePlan {
  key: string;
  /** Window: points per durationSec. Token bucket: the bucket size (maxRequests) and intervalSec. */
  points: number;
  durationSec: number;
  /** Token bucket only (rateLimit.algorithm "token-bucket"): tokens added per durationSec, continuously. */
  fillRate?: number;
  /** Which setting chose the limit (verdict and refusal rule). */
  source: string;
  /** The limit as an entry of the rateLimit rule family (enforcement.rules "rateLimit:<entry>"). */
  entry: string;
}

type Limit = { points: number; durationSec: number; fillRate?: number };
/** Long-run rate (per second): a bucket's refill, a window's points over its length. */
const rate = (l: Limit) => (l.fillRate ?? l.points) / l.durationSec;
type Override = Config['rateLimit']['groups'][string];

/**
 * An override (or a token's own {points, durationSec}) as a limit of the configured algorithm. With
 * the token bucket, {maxRequests, fillRate, intervalSec} is used when set; a window-shaped limit
 * becomes a bucket of `points` refilled by `points` per `durationSec` (the same long-run rate).
 */
function limitOf(o: Override, cfg: Config['rateLimit']): Limit {
  if (cfg.algorithm === 'token-bucket') {
    if (o.maxRequests !== undefined && o.fillRate !== undefined && o.intervalSec !== undefined) return { points: o.maxRequests, durationSec: o.intervalSec, fillRate: o.fillRate };
    const points = o.points ?? cfg.maxRequests;
    return o.points !== undefined ? { points, durationSec: o.durationSec ?? cfg.intervalSec, fillRate: points } : { points, durationSec: cfg.intervalSec, fillRate: cfg.fillRate };
  }
  return { points: o.points ?? cfg.points, durationSec: o.durationSec ?? cfg.durationSec };
}

/**
 * Limit precedence: the API token's own limit, then rateLimit.clients for a service principal's
 * client id, then the most generous rateLimit.groups entry among the identity's groups (group
 * overrides raise limits for tiers of users), then the default. The algorithm is rateLimit.algorithm
 * for all of them.
 */
export function planRateLimit(identity: Identity, cfg: Config['rateLimit']): RatePlan {
  const key = identity.tokenId !== undefined
    ? `token:${identity.tokenId}`
    : identity.isServicePrincipal && identity.clientId !== undefined
      ? `client:${identity.issuer ?? '-'}:${identity.clientId}`
      : `user:${identity.username}`;
  if (identity.rateLimit) return { key, ...limitOf(identity.rateLimit, cfg), source: 'token rateLimit', entry: 'token' };
  const client = identity.isServicePrincipal && identity.clientId !== undefined ? cfg.clients[identity.clientId] : undefined;
  if (client) return { key, ...limitOf(client, cfg), source: `rateLimit.clients.${identity.clientId}`, entry: `clients.${identity.clientId}` };
  let best: { name: string; limit: Limit } | undefined;
  for (const g of identity.groups) {
    const o = cfg.groups[g];
    if (!o) continue;
    const l = limitOf(o, cfg);
    if (!best || rate(l) > rate(best.limit) || (rate(l) === rate(best.limit) && l.points > best.limit.points)) best = { name: g, limit: l };
  }
  if (best) return { key, ...best.limit, source: `rateLimit.groups.${best.name}`, entry: `groups.${best.name}` };
  const def: Limit = cfg.algorithm === 'token-bucket' ? { points: cfg.maxRequests, durationSec: cfg.intervalSec, fillRate: cfg.fillRate } : { points: cfg.points, durationSec: cfg.durationSec };
  return { key, ...def, source: 'rateLimit', entry: 'default' };
}

/** Why an identity is never limited (rateLimit.exemptions), or undefined. */
export function exemptionOf(identity: Identity, cfg: Config['rateLimit']): string | undefined {
  const ex = cfg.exemptions;
  if (ex.users.includes(identity.username)) return `rateLimit.exemptions.users (${identity.username})`;
  const g = ex.groups.length ? identity.groups.find((x) => ex.groups.includes(x)) : undefined;
  return g === undefined ? undefined : `rateLimit.exemptions.groups (${g})`;
}

const compiledCosts = new WeakMap<Config['rateLimit']['costs'], Array<{ pattern: PathPattern; cost: number; index: number }>>();

/**
 * What a request costs: the first rateLimit.costs entry whose method (if any) and path pattern match
 * the canonical path, else 1. Capped at the limit (a request never costs more than a full bucket or
 * window, so an expensive route is slow, never impossible).
 */
export function costOf(method: string, canonicalPath: string, cfg: Config['rateLimit'], limit: number): { cost: number; rule?: string } {
  if (!cfg.costs.length) return { cost: 1 };
  let compiled = compiledCosts.get(cfg.costs);
  if (!compiled) {
    compiled = [];
    cfg.costs.forEach((c, index) => {
      try {
        compiled!.push({ pattern: parsePathPattern(c.method ? `${c.method} ${c.path}` : c.path), cost: c.cost, index });
      } catch {
        /* refused by config validation; never matches here */
      }
    });
    compiledCosts.set(cfg.costs, compiled);
  }
  for (const c of compiled) if (matchesPattern(c.pattern, method, canonicalPath)) return { cost: Math.min(c.cost, limit), rule: `rateLimit.costs[${c.index}]` };
  return { cost: 1 };
}

/**
 * The RateLimit-* fields of draft-ietf-httpapi-ratelimit-headers (the separate-field form the
 * contract names; Reset is delta-seconds), plus Retry-After (RFC 9110 §10.2.3) when refused. With a
 * token bucket (info.bucket) also Jira Data Center's X-RateLimit-Limit/-Remaining/-Interval-Seconds/
 * -FillRate and Retry-After on every answer: 0 while tokens remain, else the seconds until enough.
 */
export function rateLimitHeaders(info: RateLimitInfo, refused = false): Record<string, string> {
  const h: Record<string, string> = {
    'RateLimit-Limit': String(info.limit),
    'RateLimit-Remaining': String(info.remaining),
    'RateLimit-Reset': String(info.resetSec),
  };
  if (info.bucket) {
    // Jira Data Center's names (8.6 and later): the bucket size, tokens left, the refill.
    h['X-RateLimit-Limit'] = String(info.limit);
    h['X-RateLimit-Remaining'] = String(info.remaining);
    h['X-RateLimit-Interval-Seconds'] = String(info.bucket.intervalSec);
    h['X-RateLimit-FillRate'] = String(info.bucket.fillRate);
    h['Retry-After'] = String(refused ? Math.max(1, info.bucket.retrySec) : info.bucket.retrySec);
  } else if (refused) h['Retry-After'] = String(Math.max(1, info.resetSec));
  return h;
}
