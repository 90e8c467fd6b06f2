// A Jira user as Jira's REST API tells it: GET {upstream}/rest/api/2/user?username=X&expand=groups
// with the configured service credential (jiraGroupLookup.authorization is the whole Authorization
// value, e.g. "Bearer <PAT>"). One HTTP client, two users of it:
//   - JiraGroupLookup: groups for tokens that carry the Entra groups-overage marker instead of their
//     groups, cached per username for jiraGroupLookup.cacheSec;
//   - the API-token verifier's live owner identity (apiTokens.groupsFrom: jira, api-token/owner-identity.ts).
// A failure is 503 auth_unavailable, never "no groups" and never "active".
import type { Clock } from '../../../clock.js';
import { SidecarError } from '../../../errors.js';
import type { Policy } from '../../../config/policy.js';
import { observeIdpCall, type Metrics } from '../../metrics/metrics.js';
import type { FetchLike } from './key-source.js';
import { whyFetchFailed } from './fetch-json.js';

/** What Jira says about one user. `found: false` is Jira's 404 (deleted or never existed). */
export interface JiraUser {
  found: boolean;
  /** Jira's `active` (false for a deactivated user); false when not found. */
  active: boolean;
  groups: string[];
}

/**
 * The HTTP call, timed as sidecar_idp_request_duration_seconds{kind="jira_groups"}. No cache: the
 * callers keep their own. A 200 with a usable body or a 404 is an answer; anything else (no
 * credential configured, unreachable, timeout, another status, a body without groups.items) throws
 * 503 auth_unavailable with `rule`.
 */
export class JiraUserLookup {
  constructor(
    private readonly fetchImpl: FetchLike,
    private readonly metrics?: Pick<Metrics, 'idpRequests'>,
  ) {}

  async fetchUser(username: string, policy: Policy, rule: string): Promise<JiraUser> {
    const cfg = policy.config.jiraGroupLookup;
    const base = policy.config.upstream.url.replace(/\/+$/, '');
    const url = `${base}/rest/api/2/user?username=${encodeURIComponent(username)}&expand=groups`;
    const fail = (why: string) => new SidecarError('auth_unavailable', { rule, detail: `Jira user lookup for ${username}: ${why}` });
    if (!cfg.authorization) throw fail('jiraGroupLookup.authorization is not set');
    const authorization = cfg.authorization;
    // The body is read inside the timed call (and under the same timeout); only a 200 has one we use.
    let answer: { status: number; text?: string };
    try {
      answer = await observeIdpCall(
        this.metrics,
        'jira_groups',
        async () => {
          const res = await this.fetchImpl(url, { headers: { authorization, accept: 'application/json' }, signal: AbortSignal.timeout(cfg.timeoutMs) });
          if (res.status !== 200) {
            await res.body?.cancel().catch(() => undefined);
            return { status: res.status };
          }
          return { status: res.status, text: await res.text() };
        },
        (a) => a.status === 200 || a.status === 404,
      );
    } catch (e) {
      throw fail(whyFetchFailed(e, cfg.timeoutMs));
    }
    if (answer.status === 404) return { found: false, active: false, groups: [] };
    if (answer.status !== 200) throw fail(`HTTP ${answer.status}`);
    let body: { active?: unknown; groups?: { items?: Array<{ name?: unknown }> } };
    try {
      body = JSON.parse(answer.text ?? '') as typeof body;
    } catch {
      throw fail('answer is not JSON');
    }
    const items = body?.groups?.items;
    if (!Array.isArray(items)) throw fail('answer has no groups.items');
    const groups = items.map((i) => i?.name).filter((n): n is string => typeof n === 'string' && n.length > 0);
    // Jira DC always sends `active`; only an explicit false means deactivated.
    return { found: true, active: body.active !== false, groups };
  }
}

const MAX_ENTRIES = 10_000;

export class JiraGroupLookup {
  private readonly cache = new Map<string, { groups: string[]; untilMs: number; version: number }>();
  private readonly inflight = new Map<string, Promise<string[]>>();
  private readonly users: JiraUserLookup;

  constructor(
    fetchImpl: FetchLike,
    private readonly clock: Clock,
    /** sidecar_idp_request_duration_seconds{kind="jira_groups"} */
    metrics?: Pick<Metrics, 'idpRequests'>,
  ) {
    this.users = new JiraUserLookup(fetchImpl, metrics);
  }

  async groupsOf(username: string, policy: Policy): Promise<string[]> {
    const now = this.clock.now();
    const hit = this.cache.get(username);
    if (hit && hit.untilMs > now && hit.version === policy.version) return hit.groups;
    const key = `${policy.version}\u0000${username}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchGroups(username, policy).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const groups = await p;
    const cfg = policy.config.jiraGroupLookup;
    if (cfg.cacheSec > 0) {
      this.cache.delete(username);
      this.cache.set(username, { groups, untilMs: this.clock.now() + cfg.cacheSec * 1000, version: policy.version });
      if (this.cache.size > MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    }
    return groups;
  }

  /** Jira has no such user: no groups (Jira itself will refuse the request). */
  private async fetchGroups(username: string, policy: Policy): Promise<string[]> {
    return (await this.users.fetchUser(username, policy, 'groups-overage')).groups;
  }

  clear(): void {
    this.cache.clear();
  }
}
