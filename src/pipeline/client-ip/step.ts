import type { Deps } from '../deps.js';
import type { Step } from '../step.js';
import { perPolicy } from '../../config/policy.js';
import { parseRanges } from '../ip-match.js';
import { clientIpView, resolveClientIp } from './resolve.js';

/** An address of access.ipAllowlist (its first entry's), for the warm-up's requests; undefined without a list. */
const warmupAddress = perPolicy((c): string | undefined => parseRanges(c.access.ipAllowlist)[0]?.addr.toString());

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
      st.clientIp = (st.warmup && warmupAddress(st.policy)) || r.ip;
      st.verdicts.push({ stage: 'client-ip', rule: 'trustedProxies', outcome: 'info', detail: `${r.ip}: ${r.detail}` });
      if (r.malformed !== undefined) {
        d.logger.warn({ requestId: st.requestId, peer: st.facts.peerIp, entry: r.malformed }, 'malformed client IP header entry: peer address used');
      }
    },
  };
}
