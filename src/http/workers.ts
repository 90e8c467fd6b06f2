// `server.workers: N | auto` (N > 1): `serve` becomes a node:cluster primary that serves nothing
// itself. It opens the store and runs the migrations once (and closes it: the workers open their
// own), owns the group's memory rate-limit counters (pipeline/rate-limit/cluster.ts), then forks N
// workers that each run the listeners on the same ports (the cluster module shares them; Linux: the
// primary accepts and hands connections round-robin). Each worker writes its own request audit
// batches onto the one chain (http/cluster-worker.ts adaptWorkerStores says how). The worker's side
// is http/cluster-worker.ts.
//
// Lifecycle: slot 0 starts first (it replays stored admin changes and creates the first admin
// account alone), the others after it. SIGTERM/SIGINT: every worker drains its requests
// (server.shutdownGraceMs) and writes its audit queue, then the primary exits 0. SIGHUP: every
// worker reloads. A configuration one worker applies (admin save, POST /api/reload) is relayed to
// the others. A worker that dies is replaced in its slot (logged), after a pause if it died young;
// a worker that dies before the group first listened fails the start.
//
// PostgreSQL: the same arrangement (the workers are one replica, server.replicaName, with one request
// chain), not N replicas: N chains per host would say nothing more. The workers append to it in
// turn under the chain's transaction-scoped advisory lock, as two writers of one replica always did.
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { openStores } from '../store/open.js';
import { LimitHub } from '../pipeline/rate-limit/cluster.js';
import { WORKER_ENV } from '../worker-role.js';
import type { ControlIpc } from './cluster-worker.js';

/** server.workers as a number: "auto" is one per core the process may use. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? Math.max(1, os.availableParallelism()) : setting;
}

/** A worker that lived less than this is restarted after a pause (a crash loop must not spin). */
const YOUNG_MS = 5000;
/** After the workers' own grace: how long their audit queues may take to drain before they are killed. */
const DRAIN_MS = 30_000;

export async function runPrimary(o: { config: Config; logger: Logger; workers: number }): Promise<void> {
  const { config, workers } = o;
  const logger = o.logger.child({ role: 'primary', pid: process.pid });
  const { stores, migrations, where } = await openStores(config, { logger });
  if (migrations?.applied.length) logger.info({ applied: migrations.applied, store: stores.kind }, 'migrations applied');
  // The primary writes nothing: the store was opened for the migrations only.
  await stores.close();
  logger.info({ store: stores.kind, where, workers }, 'migrations checked; starting workers');
  const limits = new LimitHub(logger);
  const aggregator = new AggregatorRegistry();

  const slots = new Map<number, { worker: Worker; startedAt: number; ready: boolean }>();
  let stopping = false;
  let listening = false;
  let failStart: ((e: Error) => void) | undefined;
  const readyWaiters = new Map<number, () => void>();

  const others = (w: Worker) => [...slots.values()].map((s) => s.worker).filter((x) => x !== w && x.isConnected());
  const onMessage = (w: Worker, index: number, m: ControlIpc) => {
    if (limits.handle(w, m)) return;
    switch (m?.type) {
      case 'jas:ready': {
        const slot = slots.get(index);
        if (slot?.worker === w) slot.ready = true;
        logger.info({ worker: index, workerPid: w.process.pid, proxy: m.proxyUrl, admin: m.adminUrl }, 'worker listening');
        readyWaiters.get(index)?.();
        readyWaiters.delete(index);
        return;
      }
      case 'jas:config-changed':
        // One worker applied a new configuration: the others re-read it (file or database).
        for (const x of others(w)) x.send({ type: 'jas:reload' } satisfies ControlIpc);
        return;
      case 'jas:metrics':
        aggregator.clusterMetrics().then(
          (text) => w.isConnected() && w.send({ type: 'jas:metrics-done', id: m.id, text } satisfies ControlIpc),
          (e: Error) => w.isConnected() && w.send({ type: 'jas:metrics-done', id: m.id, error: e.message } satisfies ControlIpc),
        );
        return;
    }
  };

  const fork = (index: number): Worker => {
    const worker = cluster.fork({ [WORKER_ENV]: String(index) });
    slots.set(index, { worker, startedAt: Date.now(), ready: false });
    worker.on('message', (m: ControlIpc) => onMessage(worker, index, m));
    worker.on('exit', (code, signal) => {
      const slot = slots.get(index);
      if (slot?.worker !== worker) return;
      if (stopping) return;
      if (!listening) {
        failStart?.(new Error(`worker ${index} (pid ${worker.process.pid}) exited during start (${signal ?? `code ${code}`})`));
        return;
      }
      const lived = Date.now() - slot.startedAt;
      const delayMs = lived < YOUNG_MS ? 1000 : 0;
      logger.error({ worker: index, workerPid: worker.process.pid, code, signal, livedMs: lived, restartInMs: delayMs }, 'worker exited unexpectedly; starting a replacement');
      setTimeout(() => {
        if (!stopping) fork(index);
      }, delayMs);
    });
    return worker;
  };
  const ready = (index: number) =>
    new Promise<void>((resolve, reject) => {
      readyWaiters.set(index, resolve);
      failStart = reject;
      fork(index);
    });

  // ---- shutdown and reload: installed before the first fork
  let signals = 0;
  let stopped: Promise<void> | undefined;
  const stop = (why: string, exitCode = 0) =>
    (stopped ??= (async () => {
      stopping = true;
      logger.info({ reason: why, workers: [...slots.values()].map((s) => s.worker.process.pid) }, 'stopping the workers');
      const alive = [...slots.values()].map((s) => s.worker).filter((w) => !w.isDead());
      const exited = Promise.all(alive.map((w) => new Promise((r) => (w.isDead() ? r(undefined) : w.once('exit', r)))));
      for (const w of alive) if (w.isConnected()) w.send({ type: 'jas:shutdown' } satisfies ControlIpc);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), config.server.shutdownGraceMs + DRAIN_MS)))]);
      clearTimeout(timer);
      if (timedOut) {
        logger.error('workers did not stop in time: killing them');
        for (const w of alive) if (!w.isDead()) w.process.kill('SIGKILL');
        await exited;
      }
      await limits.close();
      logger.info('stopped');
      process.exit(exitCode);
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    logger.info({ signal: sig }, 'signal received');
    if (signals > 1) {
      for (const s of slots.values()) if (!s.worker.isDead()) s.worker.process.kill('SIGKILL');
      process.exit(130);
    }
    void stop(sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'signal received: every worker reloads the configuration');
    for (const s of slots.values()) if (s.worker.isConnected()) s.worker.send({ type: 'jas:reload' } satisfies ControlIpc);
  });

  try {
    await ready(0);
    await Promise.all(Array.from({ length: workers - 1 }, (_, i) => ready(i + 1)));
  } catch (e) {
    logger.fatal({ err: e }, 'failed to start');
    return void stop('start failed', 1);
  }
  listening = true;
  if (stopping) return;
  logger.info({ workers: [...slots.entries()].map(([index, s]) => ({ worker: index, pid: s.worker.process.pid })) }, 'all workers listening');
}
