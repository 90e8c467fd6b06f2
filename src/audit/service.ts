// Wires the audit log into a runtime: the queued sink on the store's request writer replaces the
// NullAuditSink (the pipeline is composed after buildServices, so the audit middleware picks this
// one up), retention runs at start and every audit.retentionIntervalSec, and services.audit offers
// query/export/admin recording to the admin API.
import type { Readable } from 'node:stream';
import type { Deps } from '../pipeline/deps.js';
import type { Policy } from '../config/policy.js';
import type { AuditFilters, AuditStore, RetentionResult } from '../store/audit-store.js';
import { QueuedAuditSink } from './sink.js';
import { recordAdminAction, type AdminAction } from './record-admin.js';
import { queryAdmin, queryAudit, type AdminEntry, type AuditPage, type Page } from './query.js';
import { exportAudit, type ExportFormat, type ExportOptions } from './export.js';

export interface AuditService {
  sink: QueuedAuditSink;
  query(filters: AuditFilters, page?: Page): Promise<AuditPage>;
  export(filters: AuditFilters, format: ExportFormat, opts?: ExportOptions): Readable;
  /** Chained onto this replica's admin chain; rejects if it cannot be stored (fail the admin request then). */
  recordAdminAction(action: AdminAction): Promise<number>;
  queryAdmin(page?: Page): Promise<AuditPage<AdminEntry>>;
  /** One retention pass now (also runs at start and on the schedule). */
  runRetention(): Promise<RetentionResult>;
}

declare module '../pipeline/deps.js' {
  interface Services {
    audit?: AuditService;
  }
}

type Readiness = { ok: boolean; detail?: string };

/** What installAudit needs of a runtime (http/runtime.ts Runtime has it; audit/ does not import http/). */
export interface AuditHost {
  deps: Deps;
  stores: { readonly audit: AuditStore };
  readiness: Array<{ name: string; check(): Readiness | Promise<Readiness> }>;
  onReload: Array<(p: Policy) => void>;
  onClose: Array<() => Promise<void> | void>;
}

export function installAudit(rt: AuditHost): AuditService {
  const { deps } = rt;
  const store = rt.stores.audit;
  const cfg = () => deps.getPolicy().config.audit;
  // audit.writer is read once: the worker (if any) owns the request chain for the sink's lifetime.
  const sink = new QueuedAuditSink({ writer: store.requestWriter(cfg().writer), settings: cfg, logger: deps.logger, metrics: deps.metrics });
  deps.auditSink = sink;

  // Not ready while the audit log refuses rows and audit.onFailure would refuse every guarded request.
  rt.readiness.push({
    name: 'audit',
    check: () => {
      const why = sink.unavailableReason();
      return cfg().enabled && cfg().onFailure === 'deny' && why ? { ok: false, detail: why } : { ok: true };
    },
  });

  const abort = new AbortController();
  const none: RetentionResult = { deletedByAge: 0, deletedByCount: 0 };
  let running: Promise<RetentionResult> | undefined;
  const pass = async (): Promise<RetentionResult> => {
    try {
      if (abort.signal.aborted) return none;
      const r = await store.prune({ ...cfg(), signal: abort.signal, now: deps.clock.now() });
      if (abort.signal.aborted) return r;
      if (r.deletedByAge || r.deletedByCount) deps.logger.info(r, 'audit retention pruned rows');
      return r;
    } catch (e) {
      deps.logger.error({ err: e }, 'audit retention failed; will retry on schedule');
      return none;
    }
  };
  const retention = () => (running ??= pass().finally(() => (running = undefined)));

  let intervalSec = cfg().retentionIntervalSec;
  const arm = () => {
    const t = setInterval(() => void retention(), intervalSec * 1000);
    t.unref();
    return t;
  };
  let timer = arm();
  const atStart = setImmediate(() => void retention()); // at start, without delaying the listeners
  rt.onReload.push((p) => {
    if (p.config.audit.retentionIntervalSec === intervalSec) return;
    intervalSec = p.config.audit.retentionIntervalSec;
    clearInterval(timer);
    timer = arm();
  });
  // The sink itself is closed by the server after onClose (it flushes into the still-open store).
  rt.onClose.push(async () => {
    clearInterval(timer);
    clearImmediate(atStart);
    abort.abort();
    await running;
  });

  const service: AuditService = {
    sink,
    query: (f, page) => queryAudit(store, f, page),
    export: (f, format, opts) => exportAudit(store, f, format, opts),
    recordAdminAction: (a) => recordAdminAction(store, deps.clock, a),
    queryAdmin: (page) => queryAdmin(store, page),
    runRetention: retention,
  };
  deps.services.audit = service;
  return service;
}
