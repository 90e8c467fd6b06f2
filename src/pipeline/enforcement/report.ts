// A rule that would refuse, in report mode: recorded on the request instead of refusing it.
import type { ErrorCode } from '../../errors.js';
import type { RequestState, StageName, WouldDeny } from '../state.js';

/** Records a refusal a report-mode rule did not make; the verdict says so too. */
export function recordWouldDeny(st: Pick<RequestState, 'wouldDeny' | 'verdicts'>, w: WouldDeny): void {
  (st.wouldDeny ??= []).push(w);
}

export const wouldDenyVerdict = (stage: StageName, rule: string, code: ErrorCode, detail: string) =>
  ({ stage, rule, outcome: 'report' as const, code, detail: `report only: ${detail}` });
