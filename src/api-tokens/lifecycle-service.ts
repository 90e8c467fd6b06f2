// Wires the token lifecycle job (api-tokens/lifecycle.ts) into a runtime: it runs at start and
// every apiTokens.lifecycleIntervalSec (re-armed when a reload changes it), on one replica at a
// time, and stops on shutdown before the notifier and the stores close. services.tokenLifecycle
// runs it on demand (tests, tools).
import type { Deps } from '../pipeline/deps.js';
import type { Policy } from '../config/policy.js';
import type { LifecycleStore } from '../store/lifecycle-store.js';
import { installNotifier } from '../notify/service.js';
import { TokenLifecycle } from './lifecycle.js';
import '../pipeline/verify/api-token/services.js';
import '../audit/service.js';

declare module '../pipeline/deps.js' {
  interface Services {
    /** The API-token lifecycle job: expiry and unused-token warnings, revocation of unused tokens, deletion. */
    tokenLifecycle?: TokenLifecycle;
  }
}

/** What installTokenLifecycle needs of a runtime (http/runtime.ts Runtime has it). */
export interface LifecycleHost {
  deps: Deps;
  stores: { readonly lifecycle: LifecycleStore };
  onReload: Array<(p: Policy) => void>;
  onClose: Array<() => Promise<void> | void>;
}

/** After buildApiTokenServices (it needs services.apiTokens); without API tokens installed it does nothing. */
export function installTokenLifecycle(rt: LifecycleHost): TokenLifecycle | undefined {
  const { deps } = rt;
  const tokens = deps.services.apiTokens;
  if (!tokens) return undefined;
  const notifier = installNotifier(rt);
  const lifecycle = new TokenLifecycle({
    tokens,
    store: rt.stores.lifecycle,
    notifier,
    clock: deps.clock,
    logger: deps.logger,
    config: () => deps.getPolicy().config,
    record: () => {
      const audit = deps.services.audit;
      return audit && ((a) => audit.recordAdminAction(a));
    },
  });
  deps.services.tokenLifecycle = lifecycle;

  let intervalSec = deps.getPolicy().config.apiTokens.lifecycleIntervalSec;
  const arm = () => {
    const t = setInterval(() => void lifecycle.run(), intervalSec * 1000);
    t.unref();
    return t;
  };
  let timer = arm();
  const atStart = setImmediate(() => void lifecycle.run()); // at start, without delaying the listeners
  rt.onReload.push((p) => {
    if (p.config.apiTokens.lifecycleIntervalSec === intervalSec) return;
    intervalSec = p.config.apiTokens.lifecycleIntervalSec;
    clearInterval(timer);
    timer = arm();
  });
  // First on shutdown: no run starts, the one in progress ends, and only then does the notifier
  // (closed later in onClose) stop its retries and wait for the messages that run sent.
  rt.onClose.unshift(async () => {
    clearInterval(timer);
    clearImmediate(atStart);
    await lifecycle.stop();
  });
  return lifecycle;
}
