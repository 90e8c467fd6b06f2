import type { Deps } from '../deps.js';
import type { Step } from '../step.js';

// FOUNDATION: everything is forwarded as presented. The authentication issue classifies credentials.
export function credentials(_d: Deps): Step {
  return {
    name: 'credentials',
    run(st) {
      if (st.route === 'unprotected') return;
      st.credential = { kind: 'anonymous', action: 'passthrough' };
    },
  };
}
