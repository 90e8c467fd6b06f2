// GET /api/status: what /readyz and /metrics know, for a person (the admin console's Status page).
// The readiness checks are the ones /readyz runs (http/readiness.ts); the numbers come from this
// replica's metrics registry; each issuer's key source is read as it is (nothing is fetched).
import type Router from '@koa/router';
import type { Registry } from 'prom-client';
import type { Runtime } from '../http/runtime.js';
import { runReadinessChecks } from '../http/readiness.js';
import { configSyncState } from './config-service.js';
import { VERSION } from '../version.js';
import type { SidecarStatus, StatusShipping } from './wire.js';

type Values = Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;

async function values(registry: Registry, name: string): Promise<Values> {
  const m = registry.getSingleMetric(name);
  if (!m) return [];
  return ((await m.get()).values ?? []) as Values;
}

const total = (v: Values) => v.reduce((a, b) => a + b.value, 0);

/** Sums a metric's values by one label. */
function byLabel(v: Values, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of v) {
    const k = String(x.labels[label] ?? '');
    out[k] = (out[k] ?? 0) + x.value;
  }
  return out;
}

const iso = (ms: number | undefined | null) => (ms === undefined || ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString());

export function registerStatusRoutes(router: Router, rt: Runtime): void {
  const startedAt = Date.now();
  router.get('/api/status', async (ctx) => {
    const registry = rt.deps.metrics.registry;
    const policy = rt.deps.getPolicy();
    const checks = await runReadinessChecks(rt);
    const missing = checks.filter((c) => !c.ok).map((c) => c.name);
    const sync = configSyncState(rt);
    const writes = await values(registry, 'sidecar_audit_write_seconds');
    const writeSum = total(writes.filter((w) => w.metricName === 'sidecar_audit_write_seconds_sum'));
    const writeCount = total(writes.filter((w) => w.metricName === 'sidecar_audit_write_seconds_count'));
    const lagRows = byLabel(await values(registry, 'sidecar_audit_shipping_lag_rows'), 'destination');
    const lagSeconds = byLabel(await values(registry, 'sidecar_audit_shipping_lag_seconds'), 'destination');
    const shipped = byLabel(await values(registry, 'sidecar_audit_shipped_total'), 'destination');
    const shipFailures = byLabel(await values(registry, 'sidecar_audit_shipping_failures_total'), 'destination');
    const destinations = [...new Set([...Object.keys(lagRows), ...Object.keys(shipped), ...Object.keys(shipFailures)])].sort();
    const shipping: StatusShipping[] = destinations.map((d) => ({ destination: d, lagRows: lagRows[d] ?? 0, lagSeconds: lagSeconds[d] ?? 0, shipped: shipped[d] ?? 0, failures: shipFailures[d] ?? 0 }));
    const sink = rt.deps.auditSink as { unavailableReason?: () => string | undefined };
    const now = Date.now();
    const body: SidecarStatus = {
      status: missing.length ? 'not_ready' : 'ready',
      missing,
      checks: checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail ?? null })),
      issuers: (rt.deps.services.jwtVerifier?.issuerKeys(policy) ?? []).map((k) => ({ issuer: k.issuer, source: k.source, ok: k.ok, detail: k.detail ?? null, fetchedAt: iso(k.fetchedAt) })),
      version: VERSION,
      replica: rt.stores.audit.replica,
      store: rt.stores.kind,
      config: { version: policy.version, stored: sync.applied, syncedAt: iso(sync.syncedAt) },
      now: new Date(now).toISOString(),
      startedAt: new Date(startedAt).toISOString(),
      uptimeSec: Math.floor((now - startedAt) / 1000),
      audit: {
        queue: total(await values(registry, 'sidecar_audit_queue_length')),
        rowsWritten: total(await values(registry, 'sidecar_audit_rows_written_total')),
        failures: byLabel(await values(registry, 'sidecar_audit_failures_total'), 'reason'),
        writeAvgMs: writeCount ? Math.round((writeSum / writeCount) * 100_000) / 100 : null,
        writes: writeCount,
        unavailable: sink.unavailableReason?.() ?? null,
        shipping,
      },
      requests: byLabel(await values(registry, 'sidecar_requests_total'), 'decision'),
      rateLimited: total(await values(registry, 'sidecar_rate_limited_total')),
      upstreamErrors: byLabel(await values(registry, 'sidecar_upstream_errors_total'), 'kind'),
      configReloads: byLabel(await values(registry, 'sidecar_config_reloads_total'), 'result'),
      handover: (rt.deps.services.verdictHandovers ?? []).map((h) => {
        const x = h.status();
        return { ...x, at: iso(x.at) };
      }),
    };
    ctx.body = body;
  });
}
