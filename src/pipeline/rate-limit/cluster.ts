// rateLimit.store "memory" under `server.workers` > 1: one set of counters for the process group, so
// "N per window" (and a token bucket's N tokens) means N across every worker, not N per worker.
// The counters live in the primary (LimitHub: the ordinary memory limiter of limiter.ts, both the
// window and the token-bucket algorithm); a worker asks it over the cluster IPC channel. The checks
// of one event-loop turn travel in one message and come back in one (a message per request would
// cost more than the check; measured under npm run bench:workers: ~8 checks per message, so ~2 µs of
// IPC per check on each side. Holding the checks back while a message is out measured 8.5: not
// worth its latency, not kept). The primary answers them in order, synchronously, so two workers'
// checks never interleave inside one key's count.
//
// No answer within rateLimit.redisTimeoutMs (or no primary) is a store failure, handled as
// rateLimit.onStoreFailure says for the shared stores: 'deny' answers 503 rate_limit_unavailable,
// 'insurance' counts in this worker alone meanwhile. Never an unlimited allow.
import type { Worker } from 'node:cluster';
import type { Logger } from '../../log.js';
import { createRateLimiterService, type LimitOutcome, type LimitSpec, type RateLimiterService, type StoreSettings } from './limiter.js';

/** One check: [id, key, points, durationSec, fillRate | null, consume 1/0, cost]. Arrays: smaller messages. */
type CheckTuple = [number, string, number, number, number | null, 0 | 1, number];
interface ChecksIpc {
  type: 'jas:rl';
  checks: CheckTuple[];
}
interface AnswersIpc {
  type: 'jas:rl-done';
  answers: Array<[number, LimitOutcome]>;
}

/** A worker's limiter for rateLimit.store memory: the counters are the primary's. */
export function clusterLimiterService(settings: StoreSettings, logger: Logger): RateLimiterService {
  const waiting = new Map<number, { check: CheckTuple; resolve: (o: LimitOutcome) => void }>();
  let batch: CheckTuple[] = [];
  let flushScheduled = false;
  let seq = 0;
  let failing: string | undefined;
  let closed = false;
  const insurance = settings.onStoreFailure === 'insurance' ? createRateLimiterService({ ...settings, store: 'memory' }, logger, { inProcess: true }) : undefined;

  const report = (why: string | undefined) => {
    if (why === failing) return;
    if (why) logger.warn({ store: 'memory', err: why, onStoreFailure: settings.onStoreFailure }, 'rate-limit counters (cluster primary) unavailable');
    else logger.info({ store: 'memory' }, 'rate-limit counters (cluster primary) answer again');
    failing = why;
  };

  /** What an unanswered check gets: onStoreFailure, as for Redis and PostgreSQL. */
  const fail = (c: CheckTuple, why: string): Promise<LimitOutcome> => {
    report(why);
    if (!insurance) return Promise.resolve({ kind: 'unavailable', detail: `rate-limit store failed: ${why}` });
    const spec: LimitSpec = { points: c[2], durationSec: c[3], ...(c[4] === null ? {} : { fillRate: c[4] }) };
    return Promise.resolve(insurance.check(c[1], spec, c[5] === 1, c[6])).then((o) => (o.kind === 'unavailable' ? o : { ...o, via: 'insurance' as const }));
  };

  const onMessage = (m: unknown) => {
    const a = m as AnswersIpc;
    if (a?.type !== 'jas:rl-done') return;
    for (const [id, outcome] of a.answers) {
      const w = waiting.get(id);
      if (!w) continue; // timed out meanwhile: it was answered by onStoreFailure
      waiting.delete(id);
      w.resolve(outcome);
    }
    if (failing) report(undefined);
  };
  const failAll = (ids: Iterable<number>, why: string) => {
    for (const id of ids) {
      const w = waiting.get(id);
      if (!w) continue;
      waiting.delete(id);
      void fail(w.check, why).then(w.resolve);
    }
  };
  const onDisconnect = () => failAll([...waiting.keys()], 'the cluster primary is gone');
  process.on('message', onMessage);
  process.on('disconnect', onDisconnect);

  const flush = () => {
    flushScheduled = false;
    const checks = batch;
    batch = [];
    const ids = checks.map((c) => c[0]);
    if (!process.connected || !process.send) return failAll(ids, 'the cluster primary is gone');
    process.send({ type: 'jas:rl', checks } satisfies ChecksIpc, undefined, undefined, (err: Error | null) => err && failAll(ids, `IPC: ${err.message}`));
    // One timer per message, not per check.
    setTimeout(() => failAll(ids, `the cluster primary did not answer within ${settings.redisTimeoutMs} ms`), settings.redisTimeoutMs).unref();
  };

  return {
    settings,
    check(key, { points, durationSec, fillRate }, consume, cost = 1) {
      const c: CheckTuple = [++seq, key, points, durationSec, fillRate ?? null, consume ? 1 : 0, cost];
      if (closed) return fail(c, 'closed');
      return new Promise<LimitOutcome>((resolve) => {
        waiting.set(c[0], { check: c, resolve });
        batch.push(c);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush); // the checks of this event-loop turn go together
        }
      });
    },
    status() {
      if (closed) return { ok: false, detail: 'closed' };
      if (!failing) return { ok: true, detail: 'memory (shared by the workers, in the cluster primary)' };
      return insurance
        ? { ok: true, detail: `cluster primary failing (${failing}): in-memory insurance limiter` }
        : { ok: false, detail: `cluster primary failing: ${failing} (onStoreFailure: deny)` };
    },
    async close() {
      closed = true;
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      failAll([...waiting.keys()], 'closed');
      await insurance?.close();
    },
  };
}

/** The primary's side: the group's memory counters, answering every worker's checks. */
export class LimitHub {
  private readonly svc: RateLimiterService;

  constructor(logger: Logger) {
    this.svc = createRateLimiterService({ store: 'memory', onStoreFailure: 'deny', redisTimeoutMs: 1000 }, logger, { inProcess: true });
  }

  /** Handles a worker's message if it is a batch of checks; false otherwise. */
  handle(worker: Worker, m: unknown): boolean {
    const msg = m as ChecksIpc;
    if (msg?.type !== 'jas:rl') return false;
    // The memory limiters decide synchronously, in this order; only the promises settle later.
    const answers = msg.checks.map(([id, key, points, durationSec, fillRate, consume, cost]) =>
      Promise.resolve(this.svc.check(key, { points, durationSec, ...(fillRate === null ? {} : { fillRate }) }, consume === 1, cost)).then((o): [number, LimitOutcome] => [id, o]),
    );
    void Promise.all(answers).then((a) => {
      if (worker.isConnected()) worker.send({ type: 'jas:rl-done', answers: a } satisfies AnswersIpc);
    });
    return true;
  }

  close(): Promise<void> {
    return this.svc.close();
  }
}
