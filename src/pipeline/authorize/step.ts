import { SidecarError } from '../../errors.js';
import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import { accessView, decideAccess } from './decide.js';

// Groups, read-only, IP allow-list, client ACL, token scope and lockdown (decide.ts), on the
// canonical path and the resolved client address.
export function authorize(_d: Deps): Step {
  return {
    name: 'authorize',
    run(st) {
      if (st.route === 'unprotected') return;
      const r = decideAccess(
        st.identity,
        {
          facts: st.facts,
          // Callers that skip route-rules (the /_sidecar/tokens self-service) are judged as guarded.
          route: st.route ?? 'guarded',
          canonicalPath: st.canonicalPath ?? st.facts.rawTarget.split('?')[0]!,
          pathAltered: st.pathAltered ?? false,
          clientIp: st.clientIp ?? st.facts.peerIp,
          credentialKind: st.credential?.kind,
        },
        accessView(st.policy),
      );
      st.verdicts.push(...r.verdicts);
      if (r.wouldDeny) (st.wouldDeny ??= []).push(...r.wouldDeny);
      if (r.refusal) throw new SidecarError(r.refusal.code, { rule: r.refusal.rule, detail: r.refusal.detail });
    },
  };
}
