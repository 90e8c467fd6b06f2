import { SidecarError } from '../../errors.js';
import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import './verifier.js';

// Proves a credential the sidecar consumes (jwt | introspection | api token) with the verifier
// registered for its kind. Passthrough kinds, bypassed and unprotected paths are not verified here.
export function verify(d: Deps): Step {
  return {
    name: 'verify',
    async run(st, mode) {
      const cred = st.credential;
      if (!cred || cred.action !== 'verify' || st.route === 'unprotected' || st.route === 'bypass') return;
      const verifier = d.services.verifiers?.[cred.kind];
      if (!verifier) throw new SidecarError('credential_kind_denied', { rule: `verifier:${cred.kind}`, detail: `no verifier for ${cred.kind}` });
      st.identity = await verifier.verify(cred, st, mode);
      st.verdicts.push({ stage: 'verify', rule: cred.kind, outcome: 'pass', detail: `as ${st.identity.username}` });
    },
  };
}
