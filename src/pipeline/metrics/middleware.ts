import type { Middleware } from 'koa';
import { SidecarError } from '../../errors.js';
import type { Metrics } from './metrics.js';
import type { RequestState } from '../state.js';
import type { Clock } from '../../clock.js';

/** Counts every request by decision/code/status and observes its latency (end of response). */
export function metrics(m: Metrics, clock: Clock): Middleware {
  // prom-client hashes the label object on every inc/observe: keep the labelled children instead
  // (a few dozen decision/code/status combinations exist).
  // Nested by decision, code, status: no key string is built per request.
  const counters = new Map<string, Map<string, Map<number, { inc(): void }>>>();
  const histograms = new Map<string, { observe(v: number): void }>();
  const countOf = (decision: string, code: string, status: number) => {
    let byCode = counters.get(decision);
    if (!byCode) counters.set(decision, (byCode = new Map()));
    let byStatus = byCode.get(code);
    if (!byStatus) byCode.set(code, (byStatus = new Map()));
    let c = byStatus.get(status);
    if (!c) byStatus.set(status, (c = m.requests.labels({ decision, code, status: String(status) })));
    return c;
  };
  const latencyOf = (decision: string) => {
    let h = histograms.get(decision);
    if (!h) histograms.set(decision, (h = m.latency.labels({ decision })));
    return h;
  };
  return async function metrics(ctx, next) {
    let err: unknown;
    try {
      await next();
    } catch (e) {
      // The JSON refusal is written by request-id (outside us), so ctx.status is not final yet:
      // take status and code from the error itself, or a 502/504 would be counted as Koa's default 404.
      err = e;
      throw e;
    } finally {
      const st = ctx.state as RequestState;
      const decision = st.refusal ? 'deny' : err || st.upstreamStatus === undefined ? 'error' : st.identity ? 'allow' : 'passthrough';
      const errStatus = err instanceof SidecarError ? err.status : err ? 500 : undefined;
      const errCode = err instanceof SidecarError ? err.code : err ? 'internal_error' : undefined;
      const status = st.refusal?.status ?? errStatus ?? st.upstreamStatus ?? ctx.status;
      countOf(decision, st.refusal?.code ?? errCode ?? 'allowed', status).inc();
      latencyOf(decision).observe((clock.now() - st.facts.receivedAt) / 1000);
    }
  };
}
