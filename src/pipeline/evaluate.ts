// The decision stages without Koa: POST /api/test runs exactly the code the proxy runs, on plain
// RequestFacts, in 'test' mode (no rate-limit point consumed, nothing stamped, Jira never called).
import type { Deps } from './deps.js';
import { decisionStages } from './index.js';
import { runStep } from './step.js';
import type { Decision, RequestFacts, RequestState } from './state.js';
import { SidecarError } from '../errors.js';

export async function evaluate(facts: RequestFacts, d: Deps, requestId = 'test'): Promise<{ decision: Decision; state: RequestState }> {
  const state: RequestState = { requestId, policy: d.getPolicy(), facts, verdicts: [] };
  let error: unknown;
  for (const step of decisionStages(d)) {
    try {
      await runStep(step, state, 'test');
    } catch (e) {
      error = e;
      break;
    }
  }
  return { decision: toDecision(state, error), state };
}

export function toDecision(state: RequestState, error?: unknown): Decision {
  const base = {
    clientIp: state.clientIp,
    canonicalPath: state.canonicalPath,
    route: state.route,
    credentialKind: state.credential?.kind,
    identity: state.identity,
    rateLimit: state.rateLimit,
    wouldDeny: state.wouldDeny ?? [],
    verdicts: state.verdicts,
  };
  if (error) {
    const e = error instanceof SidecarError ? error : new SidecarError('internal_error');
    return { ...base, allow: false, status: e.status, code: e.code, reason: e.message, stage: state.refusal?.stage, rule: state.refusal?.rule };
  }
  return { ...base, allow: true, status: 200, code: 'allowed', reason: state.identity ? `allowed as ${state.identity.username}` : 'forwarded as presented (Jira decides)' };
}
