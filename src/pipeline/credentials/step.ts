import { SidecarError } from '../../errors.js';
import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import { classifyCredential } from './classify.js';

// What was presented, and what the `credentials` settings do with that kind. Unprotected and
// bypassed routes are not classified (their Authorization reaches Jira untouched); lockdown routes
// are classified like guarded ones and authorize refuses an anonymous caller there.
export function credentials(_d: Deps): Step {
  return {
    name: 'credentials',
    run(st) {
      if (st.route === 'unprotected' || st.route === 'bypass' || st.route === undefined) return;
      const c = classifyCredential(st.facts, st.policy);
      if (!c.ok) {
        // The audit row still says which kind was refused (who still sends Basic?); never its secret.
        if (c.kind) st.credential = { kind: c.kind, action: 'deny' };
        throw new SidecarError(c.code, { rule: c.rule, detail: c.detail });
      }
      st.credential = c.credential;
      st.verdicts.push({ stage: 'credentials', rule: c.rule, outcome: 'info', detail: `${c.detail} -> ${c.credential.action}` });
    },
  };
}
