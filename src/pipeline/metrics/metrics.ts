// Prometheus metrics for one sidecar instance (its own registry, so tests can run several).
import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';

export interface Metrics {
  registry: Registry;
  requests: Counter<'decision' | 'code' | 'status'>;
  latency: Histogram<'decision'>;
  upstreamErrors: Counter<'kind'>;
  auditFailures: Counter<'reason'>;
  auditQueue: Gauge;
  auditWrites: Histogram<'result'>;
  auditRowsWritten: Counter;
  /** Audit shipping (audit/shipping/), by destination (syslog, http). */
  auditShipped: Counter<'destination'>;
  auditShippingFailures: Counter<'destination'>;
  auditShippingLagRows: Gauge<'destination'>;
  auditShippingLagSeconds: Gauge<'destination'>;
  rateLimited: Counter;
  wouldDeny: Counter<'code'>;
  configReloads: Counter<'result'>;
  idpRequests: Histogram<'kind' | 'outcome'>;
}

/** Outbound calls the verifiers make: keys, discovery, introspection, and Jira's group lookup (groups overage). */
export type IdpCallKind = 'jwks' | 'discovery' | 'introspection' | 'jira_groups';

/** sidecar_request_duration_seconds (observed by metrics/recorder.ts, which reads the buckets). */
export const LATENCY = {
  name: 'sidecar_request_duration_seconds',
  help: 'Time from request arrival to the end of the response, by decision',
  labelNames: ['decision'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
};

export function createMetrics(withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'sidecar_' });
  return {
    registry,
    requests: new Counter({
      name: 'sidecar_requests_total',
      help: 'Requests by decision (allow, deny, passthrough, error), reason code and response status',
      labelNames: ['decision', 'code', 'status'],
      registers: [registry],
    }),
    latency: new Histogram({ ...LATENCY, registers: [registry] }),
    upstreamErrors: new Counter({
      name: 'sidecar_upstream_errors_total',
      help: 'Upstream failures by kind (unreachable, timeout, reset, tls, stale_connection = retried once)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    auditFailures: new Counter({
      name: 'sidecar_audit_failures_total',
      help: 'Audit rows that could not be queued or written, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    auditQueue: new Gauge({ name: 'sidecar_audit_queue_length', help: 'Audit rows waiting to be written', registers: [registry] }),
    auditWrites: new Histogram({
      name: 'sidecar_audit_write_seconds',
      help: 'Audit batch writes, from hand-off to the writer until it answered (index fills and checkpoints included), by result (ok, busy, storage_full, write_failed)',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    auditRowsWritten: new Counter({ name: 'sidecar_audit_rows_written_total', help: 'Audit rows written and confirmed by the writer', registers: [registry] }),
    auditShipped: new Counter({ name: 'sidecar_audit_shipped_total', help: 'Audit rows a SIEM confirmed (audit.shipping), by destination; a row sent again after a failure counts again', labelNames: ['destination'], registers: [registry] }),
    auditShippingFailures: new Counter({ name: 'sidecar_audit_shipping_failures_total', help: 'Audit shipping batches that failed and will be retried, by destination', labelNames: ['destination'], registers: [registry] }),
    auditShippingLagRows: new Gauge({ name: 'sidecar_audit_shipping_lag_rows', help: 'Audit rows written but not yet shipped, every replica together, by destination', labelNames: ['destination'], registers: [registry] }),
    auditShippingLagSeconds: new Gauge({ name: 'sidecar_audit_shipping_lag_seconds', help: 'Age of the oldest audit row not yet shipped (0: none), by destination', labelNames: ['destination'], registers: [registry] }),
    rateLimited: new Counter({ name: 'sidecar_rate_limited_total', help: 'Requests refused by the rate limiter', registers: [registry] }),
    configReloads: new Counter({
      name: 'sidecar_config_reloads_total',
      help: 'Configuration reloads (SIGHUP, POST /api/reload) by result: ok, unchanged, invalid (nothing changed)',
      labelNames: ['result'],
      registers: [registry],
    }),
    wouldDeny: new Counter({
      name: 'sidecar_would_deny_total',
      help: 'Requests a rule in report mode would have refused (enforcement.rules), by the code it would have answered; each code once per request',
      labelNames: ['code'],
      registers: [registry],
    }),
    idpRequests: new Histogram({
      name: 'sidecar_idp_request_duration_seconds',
      help: 'Outbound calls to the IdP (and the Jira group lookup) by kind (jwks, discovery, introspection, jira_groups) and outcome (ok, error = failed or refused answer, timeout)',
      labelNames: ['kind', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

/**
 * Times one outbound call and records how it ended: "ok" when it resolves with an answer `answered`
 * accepts, "timeout" when it rejects with the TimeoutError of AbortSignal.timeout, "error" otherwise.
 * The call's own result or error is passed through untouched. Without metrics it only runs the call.
 *   observeIdpCall(metrics, 'introspection', () => fetch(url, init), (res) => res.status === 200)
 */
export async function observeIdpCall<T>(
  metrics: Pick<Metrics, 'idpRequests'> | undefined,
  kind: IdpCallKind,
  call: () => Promise<T>,
  answered: (result: T) => boolean = () => true,
): Promise<T> {
  if (!metrics) return call();
  const end = metrics.idpRequests.startTimer({ kind });
  try {
    const result = await call();
    end({ outcome: answered(result) ? 'ok' : 'error' });
    return result;
  } catch (e) {
    end({ outcome: e instanceof Error && e.name === 'TimeoutError' ? 'timeout' : 'error' });
    throw e;
  }
}
