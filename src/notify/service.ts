// Wires the notifier into a runtime (services.notifier): e-mail and webhook on the settings in
// force at each message, the delivery log in the store. Installed once (installNotifier is
// idempotent: whoever needs it first installs it); closed on shutdown, after the jobs that use it.
import type { Deps } from '../pipeline/deps.js';
import type { LifecycleStore } from '../store/lifecycle-store.js';
import { Notifier } from './notifier.js';
import type { FetchFn } from './webhook.js';

declare module '../pipeline/deps.js' {
  interface Services {
    /** Token-owner notifications: e-mail and the webhook (notifications.*), each message in the delivery log. */
    notifier?: Notifier;
  }
}

/** What installNotifier needs of a runtime (http/runtime.ts Runtime has it; notify/ does not import http/). */
export interface NotifierHost {
  deps: Deps;
  stores: { readonly lifecycle: LifecycleStore };
  onClose: Array<() => Promise<void> | void>;
}

export function installNotifier(rt: NotifierHost, opts: { fetch?: FetchFn } = {}): Notifier {
  const existing = rt.deps.services.notifier;
  if (existing) return existing;
  const { deps } = rt;
  const notifier = new Notifier({ store: rt.stores.lifecycle, clock: deps.clock, logger: deps.logger, settings: () => deps.getPolicy().config, fetch: opts.fetch });
  deps.services.notifier = notifier;
  rt.onClose.push(() => notifier.close());
  return notifier;
}
