// Wires our API tokens into a runtime: ApiTokens over the runtime's TokenStore (also used by the admin API and the CLI),
// the 'api-token' verifier, and the self-service routes on the proxy listener.
import type { Runtime } from '../../../http/runtime.js';
import { ApiTokens } from '../../../api-tokens/api-tokens.js';
import { apiTokenVerifier } from './verifier.js';
import { selfServiceTokens } from './self-service.js';
import { groupsFromOf, OwnerIdentities } from './owner-identity.js';
import { JiraUserLookup } from '../jwt/jira-groups.js';
import type { FetchLike } from '../jwt/key-source.js';
import type { Policy } from '../../../config/policy.js';
import '../verifier.js';

declare module '../../deps.js' {
  interface Services {
    /** Our API tokens (admin GET/POST/DELETE /api/tokens uses it too). */
    apiTokens?: ApiTokens;
    /** API-token owners as Jira tells them (apiTokens.groupsFrom: jira), cached apiTokens.identityCacheSec. */
    apiTokenOwners?: OwnerIdentities;
  }
}

/** Where API-token groups come from under `p`, for /readyz and the log. */
function groupsFromDetail(p: Policy): string {
  const g = groupsFromOf(p);
  if (g.reason === 'no-credential') return 'groups as of creation: apiTokens.groupsFrom is unset and jiraGroupLookup.authorization is not set';
  if (g.from === 'creation') return 'groups as of creation (apiTokens.groupsFrom: creation)';
  if (!p.config.jiraGroupLookup.authorization) return 'apiTokens.groupsFrom is jira but jiraGroupLookup.authorization is not set: every API token is refused with 503 auth_unavailable';
  return `groups and active state from Jira, cached ${p.config.apiTokens.identityCacheSec} s`;
}

export function buildApiTokenServices(rt: Runtime, opts: { fetch?: FetchLike } = {}): void {
  const { deps } = rt;
  const store = new ApiTokens(rt.stores.tokens, {
    clock: deps.clock,
    // PostgreSQL: reuse a row for 500 ms (a round trip per request otherwise); SQLite: read every time.
    cacheMs: () => deps.getPolicy().config.apiTokens.cacheMs ?? (rt.stores.kind === 'postgres' ? 500 : 0),
    onFlushError: (err: unknown) => deps.logger.warn({ err }, 'api token last-used stamps not written; retrying later'),
  });
  deps.services.apiTokens = store;
  // A revocation on another replica is announced (PostgreSQL NOTIFY): its cached row goes at once;
  // apiTokens.cacheMs stays the bound when an announcement is lost.
  if (rt.stores.kind === 'postgres') rt.stores.onChange((change) => change === 'tokens' && store.forgetCached());
  // Live identity (issue 19): the same Jira user lookup as the Entra groups overage, its own cache.
  const fetchImpl: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl, deps.metrics), deps.clock, deps.logger);
  deps.services.apiTokenOwners = owners;
  (deps.services.verifiers ??= {})['api-token'] = apiTokenVerifier(store, deps.clock, owners);
  // Said at start (and again when a reload changes it): tokens keep their creation snapshot only
  // because no Jira credential is configured (info), or "jira" cannot work without one (warn).
  const sayGroupsFrom = (p: Policy) => {
    const detail = groupsFromDetail(p);
    const broken = groupsFromOf(p).from === 'jira' && !p.config.jiraGroupLookup.authorization;
    deps.logger[broken ? 'warn' : 'info']({ setting: 'apiTokens.groupsFrom', groupsFrom: groupsFromOf(p).from }, `API tokens: ${detail}`);
    return detail;
  };
  let said = sayGroupsFrom(deps.getPolicy());
  rt.onReload.push((p) => {
    if (groupsFromDetail(p) !== said) said = sayGroupsFrom(p);
  });
  // Always ready (a Jira outage is per request, 503 auth_unavailable); the detail says where groups come from.
  rt.readiness.push({ name: 'api-token-identity', check: () => ({ ok: true, detail: groupsFromDetail(deps.getPolicy()) }) });
  rt.proxyRoutes.push(selfServiceTokens(deps, store, rt.stores.tokenRequests)); // token requests: apiTokens.approval
  rt.onClose.push(() => store.close()); // last-used stamps pending in memory reach the database
}
