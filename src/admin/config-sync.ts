// Cluster: every replica applies the configuration an admin saved on any replica. At once when the
// store announces it (PostgreSQL NOTIFY, store/postgres/changes.ts), and in any case within
// store.syncIntervalMs, by reading the ConfigStore's version (one small read) on that interval and
// replaying the stored changes when it moved: a notification lost while a replica's connection was
// down is caught by the check, so the bound holds whatever the network did.
// Only with PostgreSQL: a SQLite file belongs to one sidecar.
import type { Runtime } from '../http/runtime.js';
import { configSyncState, syncStoredConfig } from './config-service.js';

export function startConfigSync(rt: Runtime, env: NodeJS.ProcessEnv = process.env): void {
  if (rt.stores.kind !== 'postgres' || rt.configFile) return;
  const log = rt.deps.logger;
  const intervalMs = () => rt.deps.getPolicy().config.store.syncIntervalMs;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async () => {
    try {
      await syncStoredConfig(rt, env);
      if (failing) log.warn('configuration sync recovered: the store answers again');
      failing = false;
    } catch (e) {
      // Logged when it starts failing, not on every tick; readiness reports it meanwhile.
      if (!failing) log.error({ err: e }, 'configuration sync failed: the store does not answer; this replica keeps its configuration');
      failing = true;
    }
    if (!stopped) {
      timer = setTimeout(() => void tick(), intervalMs());
      timer.unref();
    }
  };
  timer = setTimeout(() => void tick(), intervalMs());
  timer.unref();
  rt.stores.onChange((change) => {
    if (change === 'config' && !stopped) syncStoredConfig(rt, env).catch(() => {}); // the tick logs store failures
  });
  rt.onClose.push(() => {
    stopped = true;
    clearTimeout(timer);
  });
  rt.readiness.push({
    name: 'config-sync',
    check: () => {
      const { applied, syncedAt } = configSyncState(rt);
      const limitMs = Math.max(5000, 10 * intervalMs());
      const age = syncedAt === undefined ? Infinity : rt.deps.clock.now() - syncedAt;
      const when = syncedAt === undefined ? 'never' : new Date(syncedAt).toISOString();
      return { ok: age <= limitMs, detail: `version ${applied}, checked ${when}` };
    },
  });
}
