// How a request ended, derived once from its final state and whatever was thrown: the audit row and
// the metrics labels read the same answer.
import { SidecarError, type ErrorCode } from '../errors.js';
import type { RequestState } from './state.js';
import type { AuditRecord } from './audit/sink.js';
import { recordedFacts } from './audit/facts.js';

const MAX_USER_AGENT = 256;
function userAgentOf(st: RequestState): string | null {
  const ua = st.facts.headers['user-agent'];
  return typeof ua === 'string' && ua ? ua.slice(0, MAX_USER_AGENT) : null;
}

export interface Outcome {
  decision: 'allow' | 'deny' | 'passthrough' | 'error';
  /** The refusal or error code, or "allowed" (the audit reason). */
  code: ErrorCode | 'allowed';
  status: number;
}

/**
 * `fallbackStatus` is ctx.status: used only when nothing was refused, nothing was thrown and Jira never
 * answered. A thrown error's own status wins over ctx.status, which request-id (outside) sets later.
 */
export function outcomeOf(st: RequestState, err: unknown, fallbackStatus: number): Outcome {
  if (st.refusal) return { decision: 'deny', code: st.refusal.code, status: st.refusal.status };
  if (err) {
    const e = err instanceof SidecarError ? err : undefined;
    return { decision: 'error', code: e?.code ?? 'internal_error', status: e?.status ?? 500 };
  }
  return { decision: st.identity ? 'allow' : 'passthrough', code: 'allowed', status: st.upstreamStatus ?? fallbackStatus };
}

/** Guarded requests, and every request while `enabled: false`, are audited; Jira's own UI paths are not. */
export const isAudited = (st: RequestState): boolean => st.route !== 'unprotected' || !st.policy.config.enabled;

/** Builds the audit row from the final request state (pure). */
export function toAuditRecord(st: RequestState, outcome: Outcome, now: number): AuditRecord {
  const id = st.identity;
  return {
    time: st.facts.receivedAt,
    requestId: st.requestId,
    decision: outcome.decision,
    reason: outcome.code,
    status: outcome.status,
    method: st.facts.method,
    path: st.canonicalPath ?? st.facts.rawTarget.split('?')[0]!.slice(0, 2048),
    clientIp: st.clientIp ?? st.facts.peerIp,
    user: id?.username ?? null,
    credentialKind: st.credential?.kind ?? null,
    tokenId: id?.tokenId ?? null,
    clientId: id?.clientId ?? null,
    issuer: id?.issuer ?? null,
    latencyMs: Math.max(0, now - st.facts.receivedAt),
    upstreamStatus: st.upstreamStatus ?? null,
    route: st.route ?? null,
    stage: st.refusal?.stage ?? null,
    rule: st.refusal?.rule ?? null,
    wouldDeny: st.wouldDeny?.[0]?.code ?? null,
    userAgent: userAgentOf(st),
    facts: JSON.stringify(recordedFacts(st)),
  };
}
