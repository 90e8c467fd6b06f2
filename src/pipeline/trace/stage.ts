// The trace stage: a server span opened when a request reaches the pipeline (so the traceparent Jira
// receives names it) and ended by an exit recorder with the outcome, the decision stages and the
// upstream call as child spans. Composed only when a tracer was built (tracing.enabled at start).
import type { ProxyMiddleware } from '../context.js';
import type { Deps } from '../deps.js';
import type { ExitRecorder } from '../exit.js';
import type { RequestState, StageName } from '../state.js';
import { outcomeOf } from '../outcome.js';
import { clientIpView } from '../client-ip/resolve.js';
import { findRange, parseIp } from '../ip-match.js';
import { context, SpanKind, SpanStatusCode, trace, traceparentOf, type RequestTracer } from './tracer.js';
import './service.js';

/** Wall-clock milliseconds with sub-millisecond precision (span times; the injected Clock may be a test's). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Whether the caller's traceparent is continued (tracing.acceptTraceparent). */
function trusted(st: RequestState): boolean {
  const mode = st.policy.config.tracing.acceptTraceparent;
  if (mode !== 'trusted-proxies') return mode === 'always';
  const ip = parseIp(st.facts.peerIp);
  return ip !== undefined && findRange(ip, clientIpView(st.policy).trustedProxies) !== undefined;
}

export function traceStart(t: RequestTracer): ProxyMiddleware {
  return function traceStart(ctx, next) {
    const st = ctx.state as RequestState;
    if (st.warmup) return next();
    const parent = st.facts.headers.traceparent !== undefined && trusted(st) ? t.parentOf(st.facts.headers) : context.active();
    const start = nowMs();
    const span = t.tracer.startSpan(`${st.facts.method} jira-auth-sidecar`, { kind: SpanKind.SERVER, startTime: start, attributes: { 'http.request.method': st.facts.method } }, parent);
    st.trace = { span, start, stages: [] };
    st.traceparent = traceparentOf(span);
    return next();
  };
}

/** Ends the request's span: outcome attributes, a child span per decision stage and one for Jira. */
export function traceEnd(t: RequestTracer): ExitRecorder {
  return function traceEnd(st, err, fallbackStatus) {
    const tr = st.trace;
    if (!tr) return;
    const end = nowMs();
    const o = outcomeOf(st, err, fallbackStatus);
    const parent = trace.setSpan(context.active(), tr.span);
    for (const [stage, from, to] of tr.stages) t.tracer.startSpan(`stage ${stage}`, { startTime: from, attributes: { 'sidecar.stage': stage } }, parent).end(to);
    if (tr.upstreamFrom !== undefined) {
      const up = t.tracer.startSpan('upstream Jira', { kind: SpanKind.CLIENT, startTime: tr.upstreamFrom, attributes: st.upstreamStatus !== undefined ? { 'http.response.status_code': st.upstreamStatus } : {} }, parent);
      up.end(end);
    }
    const a: Record<string, string | number> = {
      'http.response.status_code': o.status,
      'sidecar.decision': o.decision,
      'sidecar.code': o.code,
    };
    // The canonical path without its query (a query may carry anything); ids and names, never a secret.
    if (st.canonicalPath !== undefined) a['url.path'] = st.canonicalPath;
    if (st.route) a['sidecar.route'] = st.route;
    if (st.clientIp) a['client.address'] = st.clientIp;
    if (st.credential) a['sidecar.credential_kind'] = st.credential.kind;
    if (st.identity) {
      a['enduser.id'] = st.identity.username;
      if (st.identity.tokenId) a['sidecar.token_id'] = st.identity.tokenId;
      if (st.identity.clientId) a['sidecar.client_id'] = st.identity.clientId;
      if (st.identity.issuer) a['sidecar.issuer'] = st.identity.issuer;
    }
    if (st.refusal) a['sidecar.stage'] = st.refusal.stage;
    if (st.wouldDeny?.length) a['sidecar.would_deny'] = st.wouldDeny[0]!.code;
    a['sidecar.request_id'] = st.requestId;
    tr.span.setAttributes(a);
    if (o.status >= 500) tr.span.setStatus({ code: SpanStatusCode.ERROR, message: o.code });
    tr.span.updateName(`${st.facts.method} ${st.route ?? 'request'}`);
    tr.span.end(end);
  };
}

/** Records a decision stage's time on the request's trace (stepsAsMiddleware's timing hook). */
export function recordStageTime(st: RequestState, stage: StageName, from: number, to: number): void {
  st.trace?.stages.push([stage, from, to]);
}

export type { Deps };
