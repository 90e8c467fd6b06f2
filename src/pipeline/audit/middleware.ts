import type { ProxyMiddleware } from '../context.js';
import { SidecarError } from '../../errors.js';
import type { Clock } from '../../clock.js';
import { recordRefusal } from '../step.js';
import type { AuditSink } from './sink.js';
import type { RequestState } from '../state.js';
import type { ExitRecorder } from '../exit.js';
import { isAudited, outcomeOf, toAuditRecord } from '../outcome.js';

/**
 * The audit row of every exit, refusals included (a recorder: recordExits runs it at the end of the
 * request). Only guarded requests (and everything while `enabled: false`) are audited; unprotected
 * paths (Jira UI) are not, nor are the start-up warm-up's own requests.
 */
export function audit(sink: AuditSink, clock: Clock): ExitRecorder {
  return function audit(st, err, fallbackStatus) {
    if (!st.policy.config.audit.enabled || !isAudited(st)) return;
    const record = toAuditRecord(st, outcomeOf(st, err, fallbackStatus), clock.now());
    // The start-up warm-up's requests: the row is built and encoded as for real, then dropped.
    if (st.warmup) sink.rehearse?.(record);
    else sink.write(record);
  };
}

/**
 * Before anything reaches Jira: if the audit log cannot take this request's row (queue full,
 * storage failing) and audit.onFailure is "deny", refuse with 503 audit_unavailable. It sits after
 * route-rules so Jira's own UI (unprotected paths, not audited) keeps working during an audit outage.
 * The refusal itself is still offered to the sink, which queues it or counts and logs it.
 */
export function auditGate(sink: AuditSink): ProxyMiddleware {
  // Not async: a request that passes goes on without an async frame of its own (one promise less).
  return function auditGate(ctx, next) {
    const st = ctx.state as RequestState;
    const cfg = st.policy.config.audit;
    if (cfg.enabled && isAudited(st) && cfg.onFailure === 'deny' && !sink.isAccepting()) {
      return Promise.reject(recordRefusal(st, 'audit', new SidecarError('audit_unavailable', { rule: 'audit.onFailure', detail: 'audit queue full or storage failing' })));
    }
    return next();
  };
}
