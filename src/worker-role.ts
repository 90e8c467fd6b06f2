// Which part of a `server.workers` process group this process is (http/workers.ts): undefined when
// it is a single sidecar (workers: 1, the CLI, tests) or the cluster's primary; a worker otherwise.
// Read from the environment the primary forks its workers with, so any module can ask without
// being handed a runtime (the rate limiter's store, the audit writer, the background-job locks).
import cluster from 'node:cluster';

export interface WorkerRole {
  /** Slot number, 0 … workers-1; a replacement for a dead worker keeps its slot. */
  index: number;
  /** Slot 0: runs the once-per-group background jobs (retention, token lifecycle, audit shipping). */
  leader: boolean;
}

/** The variable the primary sets on each worker (not a SIDECAR_* setting: users never set it). */
export const WORKER_ENV = 'JAS_WORKER_INDEX';

let role: WorkerRole | null | undefined;

export function workerRole(): WorkerRole | undefined {
  if (role === undefined) {
    const v = process.env[WORKER_ENV];
    role = cluster.isWorker && v !== undefined && /^\d+$/.test(v) && typeof process.send === 'function' ? { index: Number(v), leader: v === '0' } : null;
  }
  return role ?? undefined;
}
