import { SidecarError } from '../../errors.js';
import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import type { Identity } from '../state.js';
import './verifier.js';

// Proves a credential the sidecar consumes (jwt | introspection | api token) with the verifier
// registered for its kind. Passthrough kinds, bypassed and unprotected paths are not verified here.
export function verify(d: Deps): Step {
  return {
    name: 'verify',
    run(st, mode) {
      const cred = st.credential;
      if (!cred || cred.action !== 'verify' || st.route === 'unprotected' || st.route === 'bypass') return;
      const verifier = d.services.verifiers?.[cred.kind];
      if (!verifier) throw new SidecarError('credential_kind_denied', { rule: `verifier:${cred.kind}`, detail: `no verifier for ${cred.kind}` });
      const accept = (identity: Identity) => {
        st.identity = identity;
        st.verdicts.push({ stage: 'verify', rule: cred.kind, outcome: 'pass', detail: `as ${identity.username}` });
      };
      // A cached JWT is answered synchronously: then this step costs no promise either.
      const r = verifier.verify(cred, st, mode);
      if (r instanceof Promise) return r.then(accept);
      accept(r);
    },
  };
}
