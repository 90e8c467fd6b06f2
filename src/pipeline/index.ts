// THE composition: the ordered stage list and nothing else. Order is policy: moving a row is a
// security change. Composed once at startup (koa's callback()).
import type { ProxyMiddleware } from './context.js';
import type { Deps } from './deps.js';
import { stepsAsMiddleware, type Step } from './step.js';
import { recordExits } from './exit.js';
import { requestId, respondWithError } from './request-id/middleware.js';
import { metrics } from './metrics/recorder.js';
import { audit, auditGate } from './audit/middleware.js';
import { clientIp } from './client-ip/step.js';
import { routeRules } from './route-rules/step.js';
import { credentials } from './credentials/step.js';
import { verify } from './verify/step.js';
import { authorize } from './authorize/step.js';
import { rateLimit } from './rate-limit/step.js';
import { forward } from './forward/middleware.js';
import { nowMs, recordStageTime, traceEnd, traceStart } from './trace/stage.js';
import type { RequestState } from './state.js';

/** The decision stages, shared by the proxy and POST /api/test (evaluate.ts). */
export const decisionStages = (d: Deps): Step[] => [
  clientIp(d), //     right-most untrusted hop; koa's ctx.ip is left-most, never used for policy
  routeRules(d), //   canonical path -> unprotected | bypass | lockdown | guarded
  credentials(d), //  what was presented; a kind that is not ours declines, it does not deny
  verify(d), //       jwt | introspection | api token
  authorize(d), //    groups, read-only, IP allow-list, client ACL, token scope
  rateLimit(d), //    per credential identity, never per IP alone
];

export const stages = (d: Deps): ProxyMiddleware[] => {
  const tracer = d.services.tracer; // tracing.enabled at start; without it there is no trace code on the path
  return [
    requestId(d), //                  state, X-Request-Id, JSON refusals
    ...(tracer ? [traceStart(tracer)] : []), // the request's span (its traceparent is what Jira receives)
    recordExits( //                    one settlement handler records every exit, refusals included:
      audit(d.auditSink, d.clock), //   the audit row of every guarded request
      metrics(d.metrics, d.clock), //   counts and latency
      ...(tracer ? [traceEnd(tracer)] : []), // the span's outcome, stage and upstream child spans
    ),
    stepsAsMiddleware(decisionStages(d), (ctx, st, err) => respondWithError(ctx, st, err, d.logger), tracer ? STAGE_TIMES : undefined), // the rows above, in order, as one middleware; refusals answered in place
    auditGate(d.auditSink), //        audit.onFailure=deny: 503 before Jira when the audit log cannot take the row
    forward({ pools: d.services.upstreamPools, metrics: d.metrics, logger: d.logger, identityForwarder: d.services.identityForwarder, warmupUpstream: () => d.warmupUpstream }),
  ];
};

const STAGE_TIMES = { now: nowMs, record: recordStageTime, upstream: (st: RequestState, at: number) => void (st.trace && (st.trace.upstreamFrom = at)) };
