import { SidecarError } from '../../errors.js';
import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import { modesOf } from '../enforcement/modes.js';
import { recordWouldDeny, wouldDenyVerdict } from '../enforcement/report.js';
import { classifyCredential } from './classify.js';

// What was presented, and what the `credentials` settings do with that kind. Unprotected and
// bypassed routes are not classified (their Authorization reaches Jira untouched); lockdown routes
// are classified like guarded ones and authorize refuses an anonymous caller there.
// A kind's "deny" in report mode (enforcement.rules credentials / credentials:<kind>) is recorded
// and the credential is treated as it would be without it; a malformed credential is always refused.
export function credentials(_d: Deps): Step {
  return {
    name: 'credentials',
    run(st) {
      if (st.route === 'unprotected' || st.route === 'bypass' || st.route === undefined) return;
      const c = classifyCredential(st.facts, st.policy);
      if (!c.ok) {
        if (c.denied && modesOf(st.policy).modeOf('credentials', c.rule) === 'report') {
          st.credential = c.denied;
          recordWouldDeny(st, { code: c.code, stage: 'credentials', rule: `credentials:${c.rule}`, detail: c.detail });
          st.verdicts.push(wouldDenyVerdict('credentials', c.rule, c.code, `${c.detail} -> ${c.denied.action}`));
          return;
        }
        // The audit row still says which kind was refused (who still sends Basic?); never its secret.
        if (c.kind) st.credential = c.denied ? { kind: c.kind, action: 'deny', rule: c.rule, ...(c.denied.principal ? { principal: c.denied.principal } : {}) } : { kind: c.kind, action: 'deny' };
        throw new SidecarError(c.code, { rule: c.rule, detail: c.detail });
      }
      st.credential = c.credential;
      st.verdicts.push({ stage: 'credentials', rule: c.rule, outcome: 'info', detail: `${c.detail} -> ${c.credential.action}` });
    },
  };
}
