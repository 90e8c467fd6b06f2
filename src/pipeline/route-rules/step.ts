import type { Deps } from '../deps.js';
import type { Step } from '../step.js';

// FOUNDATION: protectedPaths prefix match on the raw path. The policy issue adds Tomcat-style
// canonicalisation, bypass and lockdown.
export function routeRules(_d: Deps): Step {
  return {
    name: 'route-rules',
    run(st) {
      const path = st.facts.rawTarget.split('?')[0]!;
      st.canonicalPath = path;
      const cfg = st.policy.config;
      st.route = cfg.protectedPaths.some((p) => path.startsWith(p)) ? 'guarded' : 'unprotected';
      st.verdicts.push({ stage: 'route-rules', rule: 'protectedPaths', outcome: 'info', detail: st.route });
    },
  };
}
