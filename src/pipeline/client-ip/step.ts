import type { Deps } from '../deps.js';
import type { Step } from '../step.js';

// FOUNDATION: the peer address. The policy issue replaces this with trustedProxies + clientIpHeader.
export function clientIp(_d: Deps): Step {
  return {
    name: 'client-ip',
    run(st) {
      const ip = st.facts.peerIp;
      st.clientIp = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    },
  };
}
