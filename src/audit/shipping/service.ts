// Wires audit shipping (audit.shipping) into a runtime: a Shipper per enabled destination, started
// with the sidecar, rebuilt when a reload changes audit.shipping, stopped on shutdown before the
// stores close. No readiness check: a SIEM that is down delays shipping, never requests.
// services.auditShipping offers a pass on demand and the lag (tests, tools).
import type { Deps } from '../../pipeline/deps.js';
import type { Policy } from '../../config/policy.js';
import { facilityCode, type AuditShippingConfig } from '../../config/audit-shipping-schema.js';
import type { AuditStore } from '../../store/audit-store.js';
import type { ShippingCursorStore } from '../../store/shipping-store.js';
import type { Destination } from './destination.js';
import { HttpDestination } from './http.js';
import { Shipper, type PassResult, type ShippingLag } from './shipper.js';
import { SyslogDestination } from './syslog.js';

export interface AuditShippingService {
  /** The enabled destinations' names. */
  destinations(): string[];
  /** One pass of every enabled destination now; throws the first failure. */
  flush(): Promise<Record<string, PassResult>>;
  /** Rows not yet shipped, per enabled destination. */
  lag(): Promise<Record<string, ShippingLag>>;
}

declare module '../../pipeline/deps.js' {
  interface Services {
    auditShipping?: AuditShippingService;
  }
}

/** What installAuditShipping needs of a runtime (http/runtime.ts Runtime has it). */
export interface ShippingHost {
  deps: Deps;
  stores: { readonly audit: AuditStore; readonly shipping: ShippingCursorStore };
  onReload: Array<(p: Policy) => void>;
  onClose: Array<() => Promise<void> | void>;
}

function destinationsOf(cfg: AuditShippingConfig): Array<{ destination: Destination; batchRows: number; flushIntervalMs: number }> {
  const out: Array<{ destination: Destination; batchRows: number; flushIntervalMs: number }> = [];
  const { syslog, http, timeoutMs } = cfg;
  if (syslog.enabled && syslog.url) {
    out.push({
      destination: new SyslogDestination({ url: syslog.url, caFile: syslog.caFile, appName: syslog.appName, facility: facilityCode(syslog.facility), format: syslog.format, timeoutMs }),
      batchRows: syslog.batchRows,
      flushIntervalMs: syslog.flushIntervalMs,
    });
  }
  if (http.enabled && http.url) {
    out.push({
      destination: new HttpDestination({ url: http.url, format: http.format, authorization: http.authorization, index: http.index, timeoutMs }),
      batchRows: http.batchRows,
      flushIntervalMs: http.flushIntervalMs,
    });
  }
  return out;
}

export function installAuditShipping(rt: ShippingHost): AuditShippingService {
  const { deps } = rt;
  let shippers: Shipper[] = [];
  let applied = '';
  let closed = false;
  // Reconfigurations run one after another: the old shippers stop (their batch in flight abandoned,
  // to be sent again) before the new ones start from the stored cursors.
  let queue: Promise<void> = Promise.resolve();

  const apply = (cfg: AuditShippingConfig) => {
    const key = JSON.stringify(cfg);
    if (closed || key === applied) return;
    applied = key;
    queue = queue.then(async () => {
      const old = shippers;
      shippers = [];
      await Promise.all(old.map((s) => s.stop()));
      for (const s of old) {
        deps.metrics.auditShippingLagRows.remove({ destination: s.name });
        deps.metrics.auditShippingLagSeconds.remove({ destination: s.name });
      }
      if (closed) return;
      shippers = destinationsOf(cfg).map(
        (d) =>
          new Shipper({
            ...d,
            audit: rt.stores.audit,
            cursors: rt.stores.shipping,
            maxBackoffMs: cfg.maxBackoffMs,
            clock: deps.clock,
            logger: deps.logger,
            metrics: deps.metrics,
          }),
      );
      for (const s of shippers) {
        deps.logger.info({ destination: s.name, target: s.target }, 'audit shipping started');
        s.start();
      }
    });
  };

  apply(deps.getPolicy().config.audit.shipping);
  rt.onReload.push((p) => apply(p.config.audit.shipping));
  rt.onClose.push(async () => {
    closed = true;
    await queue;
    const last = shippers;
    shippers = [];
    await Promise.all(last.map((s) => s.stop()));
  });

  const service: AuditShippingService = {
    destinations: () => shippers.map((s) => s.name),
    flush: async () => {
      await queue;
      const out: Record<string, PassResult> = {};
      for (const s of shippers) out[s.name] = await s.pass();
      return out;
    },
    lag: async () => {
      await queue;
      const out: Record<string, ShippingLag> = {};
      for (const s of shippers) out[s.name] = await s.lag();
      return out;
    },
  };
  deps.services.auditShipping = service;
  return service;
}
