// Live identity of an API token's owner (apiTokens.groupsFrom: jira): the owner's groups and active
// state as Jira tells them now, instead of the groups snapshot taken when the token was minted.
// Jira is asked through the same client as the Entra groups-overage lookup (jwt/jira-groups.ts);
// answers are cached per owner for apiTokens.identityCacheSec:
//   younger than half that: used as they are;
//   older than half: used, and one refresh per owner starts in the background (proxy requests only:
//     POST /api/test reads the cache but never starts one);
//   older than identityCacheSec: not used; the request waits for Jira, and a failed lookup is
//     503 auth_unavailable (never an allow). A failed background refresh keeps the old answer, so a
//     Jira outage is survived for the rest of its life.
// So a group removed (or a user deactivated) in Jira stops counting within identityCacheSec.
import type { Clock } from '../../../clock.js';
import { perPolicy, type Policy } from '../../../config/policy.js';
import type { Config } from '../../../config/schema.js';
import type { Logger } from '../../../log.js';
import type { EvalMode } from '../../step.js';
import type { JiraUser, JiraUserLookup } from '../jwt/jira-groups.js';

export type GroupsFrom = 'jira' | 'creation';

/**
 * apiTokens.groupsFrom as it applies, and why: set explicitly, or unset and resolved by whether
 * jiraGroupLookup.authorization (the Jira service credential) is configured.
 *   {} -> { from: 'creation', reason: 'no-credential' }
 *   { jiraGroupLookup: { authorization: 'Bearer x' } } -> { from: 'jira', reason: 'credential' }
 */
export function resolveGroupsFrom(c: { apiTokens: Pick<Config['apiTokens'], 'groupsFrom'>; jiraGroupLookup: Pick<Config['jiraGroupLookup'], 'authorization'> }): {
  from: GroupsFrom;
  reason: 'set' | 'credential' | 'no-credential';
} {
  if (c.apiTokens.groupsFrom) return { from: c.apiTokens.groupsFrom, reason: 'set' };
  return c.jiraGroupLookup.authorization ? { from: 'jira', reason: 'credential' } : { from: 'creation', reason: 'no-credential' };
}

export const groupsFromOf = perPolicy((c) => resolveGroupsFrom(c));

/**
 * How a cached answer fetched at `fetchedAt` may be used at `now`, given its life `ttlMs`:
 * 'fresh' (younger than half its life), 'stale' (usable, refresh in the background), 'expired'.
 *   entryAge(0, 149_999, 300_000) -> 'fresh'; entryAge(0, 150_000, 300_000) -> 'stale'; entryAge(0, 300_000, 300_000) -> 'expired'
 */
export function entryAge(fetchedAt: number, now: number, ttlMs: number): 'fresh' | 'stale' | 'expired' {
  const age = now - fetchedAt;
  if (age >= ttlMs || age < -ttlMs) return 'expired'; // a clock set far back: do not trust the entry either
  return age >= ttlMs / 2 ? 'stale' : 'fresh';
}

interface Entry {
  user: JiraUser;
  /** When the lookup that produced it started (the answer is at least this recent). */
  fetchedAt: number;
  /** Which upstream URL + credential answered (a change of either drops every entry). */
  source: string;
  /** A background refresh failed: no new one before this time. */
  retryAt?: number;
}

/** Owners kept at most; beyond it the least recently stored go. */
const MAX_OWNERS = 10_000;
/** After a failed background refresh, the next one waits this long (at most a tenth of the entry's life). */
const REFRESH_RETRY_MS = 5_000;

const sourceOf = perPolicy((c) => `${c.upstream.url}\u0000${c.jiraGroupLookup.authorization ?? ''}`);

export class OwnerIdentities {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private source = '';

  constructor(
    private readonly users: JiraUserLookup,
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {}

  /**
   * The owner as Jira says (from the cache while usable). Throws 503 auth_unavailable when Jira
   * cannot answer and no usable answer is cached. 'test' mode reads the cache or looks up, but
   * stores nothing and starts no background refresh.
   */
  async of(owner: string, policy: Policy, mode: EvalMode): Promise<JiraUser> {
    this.follow(policy);
    const ttlMs = policy.config.apiTokens.identityCacheSec * 1000;
    const now = this.clock.now();
    const hit = this.cache.get(owner);
    if (hit) {
      const age = entryAge(hit.fetchedAt, now, ttlMs);
      if (age !== 'expired') {
        if (age === 'stale' && mode === 'proxy' && !(hit.retryAt !== undefined && now < hit.retryAt)) this.refresh(owner, policy, ttlMs);
        return hit.user;
      }
    }
    const e = await this.lookup(owner, policy);
    if (mode === 'proxy') this.store(owner, e);
    return e.user;
  }

  /** A change of upstream URL or Jira credential: answers from the old source are not used. */
  private follow(policy: Policy): void {
    const source = sourceOf(policy);
    if (source === this.source) return;
    this.source = source;
    this.cache.clear();
    this.inflight.clear();
  }

  /** One lookup in flight per owner: concurrent requests (and a background refresh) share it. */
  private lookup(owner: string, policy: Policy): Promise<Entry> {
    const pending = this.inflight.get(owner);
    if (pending) return pending;
    const fetchedAt = this.clock.now();
    const source = this.source;
    const p: Promise<Entry> = this.users
      .fetchUser(owner, policy, 'api-token:jira')
      .then((user) => ({ user, fetchedAt, source }))
      .finally(() => {
        if (this.inflight.get(owner) === p) this.inflight.delete(owner);
      });
    this.inflight.set(owner, p);
    return p;
  }

  private refresh(owner: string, policy: Policy, ttlMs: number): void {
    if (this.inflight.has(owner)) return;
    this.lookup(owner, policy).then(
      (e) => this.store(owner, e),
      (err: unknown) => {
        const hit = this.cache.get(owner);
        if (hit) hit.retryAt = this.clock.now() + Math.min(REFRESH_RETRY_MS, ttlMs / 10);
        this.logger?.warn({ owner, err: (err as { detail?: string }).detail ?? String(err) }, 'API token owner: Jira lookup failed; the cached answer is used until it expires');
      },
    );
  }

  private store(owner: string, e: Entry): void {
    if (e.source !== this.source) return; // answered by a source the configuration no longer names
    const cur = this.cache.get(owner);
    if (cur && cur.fetchedAt > e.fetchedAt && cur.source === e.source) return; // a newer answer is already here
    this.cache.delete(owner);
    this.cache.set(owner, { user: e.user, fetchedAt: e.fetchedAt, source: e.source });
    if (this.cache.size > MAX_OWNERS) this.cache.delete(this.cache.keys().next().value as string);
  }

  clear(): void {
    this.cache.clear();
    this.inflight.clear();
  }

  get size(): number {
    return this.cache.size;
  }
}
