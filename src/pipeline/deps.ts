// Everything the stages need from the outside world, passed in (I/O at the edges).
import type { Agent } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Policy } from '../config/policy.js';
import type { Metrics } from './metrics/metrics.js';
import type { AuditSink } from './audit/sink.js';

export interface Deps {
  /** The current policy; each request takes one snapshot at its start. */
  getPolicy(): Policy;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  auditSink: AuditSink;
  /** Keep-alive pool to Jira. */
  upstreamAgent: Agent;
  /**
   * While the start-up warm-up runs (http/warm-up.ts): the random value its requests carry in
   * X-Sidecar-Warmup. Unset before and after, so the header means nothing then.
   */
  warmupSecret?: string;
  /**
   * While the start-up warm-up runs: a pool to its own answering server on loopback (http/warm-up.ts).
   * The forward stage sends the warm-up's requests there, through the same exchange code as to
   * Jira, so the forward path is compiled before real traffic; Jira never sees them.
   */
  warmupUpstream?: Dispatcher;
  /** Stage-owned services (verifiers, token store, limiter, identity forwarders) register here. */
  services: Services;
}

/**
 * Stage-owned services (verifiers, token store, limiter, identity forwarders). Each stage adds its
 * own optional field by module augmentation in its folder:
 *   declare module '../deps.js' { interface Services { apiTokens?: ApiTokens } }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Services {}
