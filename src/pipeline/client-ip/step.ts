import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import { accessView } from '../authorize/decide.js';
import { clientIpView, resolveClientIp } from './resolve.js';

// The right-most untrusted hop (trustedProxies + clientIpHeader); never koa's ctx.ip. Runs even
// when the sidecar is disabled, so audit rows still carry the client address.
export function clientIp(d: Deps): Step {
  return {
    name: 'client-ip',
    run(st) {
      const r = resolveClientIp(st.facts, clientIpView(st.policy));
      // The start-up warm-up's own requests come from loopback; where a global allow-list is set they
      // are judged as coming from its first entry, as a caller there would be, so they are allowed and
      // take the path to Jira (to the warm-up's stand-in, never Jira). The resolution above ran as
      // for any request. Only a request bearing the warm-up's per-process marker is one (request-id).
      // The allow-list as authorize parsed it for this policy (accessView), so nothing is parsed twice.
      st.clientIp = st.warmup ? (accessView(st.policy).ipAllowlist[0]?.addr.toString() ?? r.ip) : r.ip;
      st.verdicts.push({ stage: 'client-ip', rule: 'trustedProxies', outcome: 'info', detail: `${r.ip}: ${r.detail}` });
      if (r.malformed !== undefined) {
        d.logger.warn({ requestId: st.requestId, peer: st.facts.peerIp, entry: r.malformed }, 'malformed client IP header entry: peer address used');
      }
    },
  };
}
