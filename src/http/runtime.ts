// One running sidecar's moving parts, shared by the proxy app, the admin app and the CLI.
import type { Db } from '../store/sqlite/db.js';
import type { Stores } from '../store/stores.js';
import type { Deps } from '../pipeline/deps.js';
import type { Config } from '../config/schema.js';
import type { Policy } from '../config/policy.js';
import type { Middleware } from 'koa';

export interface ReadinessCheck {
  name: string;
  check(): { ok: boolean; detail?: string } | Promise<{ ok: boolean; detail?: string }>;
}

export interface Runtime {
  deps: Deps;
  /** The SQLite handle when store.kind is sqlite (SQLite-specific tools and tests); everything else goes through `stores`. */
  db?: Db;
  /** Storage, one interface per concern (store/stores.ts). */
  stores: Stores;
  /** Path of the config file, when one was given. */
  configFile?: string;
  /** Swap in a new validated config atomically (admin PUT /api/config, SIGHUP). */
  applyConfig(config: Config, raw?: Record<string, unknown>): Policy;
  /** The config document as the admin edits it (after ${VAR} expansion, before defaults). */
  rawConfig(): Record<string, unknown>;
  readiness: ReadinessCheck[];
  /** Extra routes on the proxy listener (e.g. /_sidecar/tokens), run after request-id, before the stages. */
  proxyRoutes: Middleware[];
  /** Called (in order) on shutdown after the listeners stopped; flushes and closes. */
  onClose: Array<() => Promise<void> | void>;
  /** Awaited (in order) after the start-up warm-up, before /readyz says ready; a failure is logged and the start goes on. */
  beforeReady: Array<() => Promise<void>>;
  /** Called after every successful config swap (caches keyed by policy, limiter rebuilds). */
  onReload: Array<(p: Policy) => void>;
}
