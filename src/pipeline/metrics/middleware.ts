import type { Middleware } from 'koa';
import type { Metrics } from './metrics.js';
import type { RequestState } from '../state.js';
import type { Clock } from '../../clock.js';

/** Counts every request by decision/code/status and observes its latency (end of response). */
export function metrics(m: Metrics, clock: Clock): Middleware {
  return async function metrics(ctx, next) {
    try {
      await next();
    } finally {
      const st = ctx.state as RequestState;
      const decision = st.refusal ? 'deny' : st.upstreamStatus === undefined ? 'error' : st.identity ? 'allow' : 'passthrough';
      const status = st.refusal?.status ?? st.upstreamStatus ?? ctx.status;
      m.requests.inc({ decision, code: st.refusal?.code ?? 'allowed', status: String(status) });
      m.latency.observe({ decision }, (clock.now() - st.facts.receivedAt) / 1000);
    }
  };
}
