// The keep-alive connection pool to Jira: undici's Pool. On the proxy path it costs about half the
// CPU per request of node:http's Agent + http.request (test/bench: ~45 vs ~80 µs for a bare
// passthrough on the benchmark machine), which is most of the sidecar's forwarding cost.
// One pool per (origin, maxSockets, connectTimeoutMs): a reload that changes them gets a new pool,
// and the old one finishes what it carries and closes.
import { Pool } from 'undici';
import type { Policy } from '../../config/policy.js';
import type { Runtime } from '../../http/runtime.js';

export class UpstreamPools {
  private key = '';
  private pool: Pool | undefined;
  private forPolicy: Policy | undefined;

  /** The pool for this policy's upstream (one comparison per request while the policy is unchanged). */
  get(policy: Policy): Pool {
    if (policy === this.forPolicy && this.pool) return this.pool;
    const up = policy.config.upstream;
    const origin = new URL(up.url).origin;
    const key = `${origin} ${up.maxSockets} ${up.connectTimeoutMs}`;
    if (key !== this.key || !this.pool) {
      const old = this.pool;
      this.pool = new Pool(origin, {
        connections: up.maxSockets,
        connect: { timeout: up.connectTimeoutMs },
        // Our own timer answers 504 after upstream.timeoutMs; a stream (SSE) may idle between events
        // for as long as Jira likes, as it could through node:http.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.key = key;
      if (old) void old.close().catch(() => {});
    }
    this.forPolicy = policy;
    return this.pool;
  }

  /** Shutdown (after the listeners closed every client connection): nothing is left to wait for. */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    this.forPolicy = undefined;
    if (p) await p.destroy().catch(() => {});
  }
}

declare module '../deps.js' {
  interface Services {
    /** Connection pools to Jira (forward stage). */
    upstreamPools?: UpstreamPools;
  }
}

/** Registers the pools and closes them after the listeners at shutdown. */
export function installUpstreamPools(rt: Runtime): void {
  const pools = new UpstreamPools();
  rt.deps.services.upstreamPools = pools;
  rt.onClose.push(() => pools.close());
}
