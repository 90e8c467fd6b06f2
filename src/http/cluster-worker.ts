// The worker's side of `server.workers` > 1 (the primary is http/workers.ts). A worker is an ordinary
// sidecar (startSidecar) on the shared ports, with three differences, all wired from here:
//   - rateLimit.store memory counts in the primary (pipeline/rate-limit/cluster.ts, via limiter.ts);
//   - the once-per-group background jobs (audit retention, token lifecycle, audit shipping) run in
//     slot 0 only: the other workers never get the jobs' locks (on SQLite those locks are always
//     granted to the one process that owns the file, which is no longer one process);
//   - a configuration it applies (admin save, POST /api/reload) is announced to the primary, which
//     has every other worker reload; SIGHUP and shutdown come from the primary.
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { Stores } from '../store/stores.js';
import type { WorkerRole } from '../worker-role.js';
import { workerRole } from '../worker-role.js';
import { reloadConfig } from '../admin/config-service.js';
import type { RunningSidecar } from './server.js';

/** primary <-> worker control messages (audit and rate-limit messages are their modules'). */
export type ControlIpc =
  | { type: 'jas:ready'; proxyUrl: string; adminUrl: string }
  | { type: 'jas:config-changed' }
  | { type: 'jas:reload' }
  | { type: 'jas:shutdown' }
  | { type: 'jas:metrics'; id: number }
  | { type: 'jas:metrics-done'; id: number; text?: string; error?: string };

const send = (m: ControlIpc) => {
  if (process.connected && process.send) process.send(m);
};

/**
 * Called on the freshly opened stores of a worker, before any service is built on them. The request
 * audit chain is not adapted: every worker appends its own batches with the store's writer (on
 * SQLite its own audit thread and connection), each transaction reading the chain head after taking
 * the write lock (SQLite BEGIN IMMEDIATE, PostgreSQL the chain's advisory lock), so the workers
 * extend one chain in commit order. Measured: cheaper than shipping the batches to one writer in
 * the primary over IPC (README "Using both cores").
 */
export function adaptWorkerStores(stores: Stores, role: WorkerRole): void {
  if (role.leader) return;
  stores.audit.prune = async () => ({ deletedByAge: 0, deletedByCount: 0 });
  stores.lifecycle.withJobLock = async () => ({ ran: false });
  stores.shipping.withShipperLock = async () => ({ ran: false });
}

/** After startSidecar: announce the worker, follow the primary's reloads and shutdown. */
export function attachWorker(running: RunningSidecar, logger: Logger, stop: (why: string) => void): void {
  const rt = running.runtime;
  // A reload the primary asked for applies here without being announced again (every worker got it).
  let remote = 0;
  const apply = rt.applyConfig;
  rt.applyConfig = (next, raw) => {
    const p = apply(next, raw);
    if (remote === 0) send({ type: 'jas:config-changed' });
    return p;
  };
  process.on('message', (m: ControlIpc) => {
    if (m?.type === 'jas:reload') {
      remote++;
      reloadConfig(rt)
        .catch((e: unknown) => logger.error({ err: e }, 'config reload failed'))
        .finally(() => remote--);
    } else if (m?.type === 'jas:shutdown') stop('primary');
  });
  process.on('disconnect', () => {
    logger.warn('the cluster primary is gone: shutting down');
    stop('disconnect');
  });
  // /metrics: the primary collects every worker's registry (prom-client's AggregatorRegistry).
  AggregatorRegistry.setRegistries([rt.deps.metrics.registry]);
  new AggregatorRegistry(); // its constructor installs the worker's answering listener (prom-client lib/cluster.js)
  send({ type: 'jas:ready', proxyUrl: running.proxyUrl, adminUrl: running.adminUrl });
}

let metricsSeq = 0;

/**
 * GET /metrics: in a worker, the sum over every worker (asked of the primary); a single sidecar, or
 * a worker whose primary does not answer within 8 s, reports its own registry.
 */
export function metricsText(registry: Registry): Promise<string> {
  if (!workerRole() || !process.connected) return registry.metrics();
  const id = ++metricsSeq;
  return new Promise<string>((resolve) => {
    const done = (text: string | undefined, why: string) => {
      clearTimeout(timer);
      process.off('message', onMessage);
      if (text !== undefined) resolve(text);
      else resolve(registry.metrics().then((own) => `# this worker only (pid ${process.pid}): the cluster primary did not aggregate (${why.replace(/\n/g, ' ')})\n${own}`));
    };
    const onMessage = (m: ControlIpc) => {
      if (m?.type === 'jas:metrics-done' && m.id === id) done(m.text, m.error ?? '');
    };
    const timer = setTimeout(() => done(undefined, 'no answer within 8 s'), 8000);
    process.on('message', onMessage);
    send({ type: 'jas:metrics', id });
  });
}
