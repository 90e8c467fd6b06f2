// Wires the limiter into a running sidecar: built at start, rebuilt when the store settings change
// on a reload (counters survive other reloads), closed on shutdown, reported by /readyz.
import type { Runtime } from '../../http/runtime.js';
import type { Config } from '../../config/schema.js';
import { createRateLimiterService, sameStore, waitForStore, type RateLimiterService, type StoreSettings } from './limiter.js';

declare module '../deps.js' {
  interface Services {
    rateLimiter?: RateLimiterService;
  }
}

const storeOf = (config: Config): StoreSettings => {
  const c = config.rateLimit;
  return { store: c.store, redisUrl: c.redisUrl, databaseUrl: config.store.url, onStoreFailure: c.onStoreFailure, redisTimeoutMs: c.redisTimeoutMs };
};

export async function installRateLimiter(rt: Runtime): Promise<void> {
  const { deps } = rt;
  let svc = createRateLimiterService(storeOf(deps.getPolicy().config), deps.logger);
  deps.services.rateLimiter = svc;
  await waitForStore(svc, 2000);
  rt.onReload.push((p) => {
    const next = storeOf(p.config);
    if (sameStore(next, svc.settings)) return;
    const old = svc;
    svc = createRateLimiterService(next, deps.logger);
    deps.services.rateLimiter = svc;
    void old.close();
  });
  rt.onClose.push(() => svc.close());
  rt.readiness.push({ name: 'rate-limit-store', check: () => svc.status() });
}
