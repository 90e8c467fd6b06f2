// Wires our API tokens into a runtime: ApiTokens over the runtime's TokenStore (also used by the admin API and the CLI),
// the 'api-token' verifier, and the self-service routes on the proxy listener.
import type { Runtime } from '../../../http/runtime.js';
import { ApiTokens } from '../../../api-tokens/api-tokens.js';
import { apiTokenVerifier } from './verifier.js';
import { selfServiceTokens } from './self-service.js';
import '../verifier.js';

declare module '../../deps.js' {
  interface Services {
    /** Our API tokens (admin GET/POST/DELETE /api/tokens uses it too). */
    apiTokens?: ApiTokens;
  }
}

export function buildApiTokenServices(rt: Runtime): void {
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
  (deps.services.verifiers ??= {})['api-token'] = apiTokenVerifier(store, deps.clock);
  rt.proxyRoutes.push(selfServiceTokens(deps, store));
  rt.onClose.push(() => store.close()); // last-used stamps pending in memory reach the database
}
