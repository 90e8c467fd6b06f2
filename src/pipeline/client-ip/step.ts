import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import { clientIpView, resolveClientIp } from './resolve.js';

// The right-most untrusted hop (trustedProxies + clientIpHeader); never koa's ctx.ip. Runs even
// when the sidecar is disabled, so audit rows still carry the client address.
export function clientIp(d: Deps): Step {
  return {
    name: 'client-ip',
    run(st) {
      const r = resolveClientIp(st.facts, clientIpView(st.policy));
      st.clientIp = r.ip;
      st.verdicts.push({ stage: 'client-ip', rule: 'trustedProxies', outcome: 'info', detail: `${r.ip}: ${r.detail}` });
      if (r.malformed !== undefined) {
        d.logger.warn({ requestId: st.requestId, peer: st.facts.peerIp, entry: r.malformed }, 'malformed client IP header entry: peer address used');
      }
    },
  };
}
