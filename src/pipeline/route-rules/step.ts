import { SidecarError } from '../../errors.js';
import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import { decideRoute, routeView } from './decide.js';

// Canonical path (as Tomcat routes it) -> unprotected | bypass | lockdown | guarded. A path that
// cannot be canonicalised safely is refused (400 path_invalid) before any other rule looks at it.
export function routeRules(_d: Deps): Step {
  return {
    name: 'route-rules',
    run(st) {
      const r = decideRoute(st.facts.method, st.facts.rawTarget, routeView(st.policy));
      st.verdicts.push(...r.verdicts);
      if (!r.ok) throw new SidecarError('path_invalid', { rule: r.rule, detail: r.reason });
      st.canonicalPath = r.canonicalPath;
      st.pathAltered = r.altered;
      st.route = r.route;
    },
  };
}
