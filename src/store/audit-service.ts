// Wires the audit log into a runtime: the SQLite sink replaces the NullAuditSink (the pipeline is
// composed after buildServices, so the audit middleware picks this one up), retention runs at start
// and every audit.retentionIntervalSec, and services.audit offers query/export/admin recording to
// the admin API.
import type { Readable } from 'node:stream';
import type { Runtime } from '../http/runtime.js';
import { SqliteAuditSink, recordAdminAction, type AdminAction } from './audit.js';
import { runRetention, type RetentionResult } from './audit-retention.js';
import { exportAudit, queryAdminAudit, queryAudit, type AuditFilters, type AuditPage, type ExportFormat, type ExportOptions, type Page } from './audit-query.js';

export interface AuditService {
  sink: SqliteAuditSink;
  query(filters: AuditFilters, page?: Page): AuditPage;
  export(filters: AuditFilters, format: ExportFormat, opts?: ExportOptions): Readable;
  /** Synchronous and chained; throws if it cannot be stored (fail the admin request then). */
  recordAdminAction(action: AdminAction): number;
  queryAdmin(page?: Page): ReturnType<typeof queryAdminAudit>;
  /** One retention pass now (also runs at start and on the schedule). */
  runRetention(): Promise<RetentionResult>;
}

declare module '../pipeline/deps.js' {
  interface Services {
    audit?: AuditService;
  }
}

export function installAudit(rt: Runtime): AuditService {
  const { deps, db } = rt;
  const cfg = () => deps.getPolicy().config.audit;
  // audit.writer is read once: the worker (if any) owns the request chain for the sink's lifetime.
  const sink = new SqliteAuditSink({ db, settings: cfg, clock: deps.clock, logger: deps.logger, metrics: deps.metrics, writer: cfg().writer });
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
      const r = await runRetention(db, deps.clock, { ...cfg(), signal: abort.signal });
      if (abort.signal.aborted) return r;
      if (r.deletedByAge || r.deletedByCount) deps.logger.info(r, 'audit retention pruned rows');
      // Fresh statistics (STAT4 samples) help the planner with the remaining filter choices.
      db.pragma('analysis_limit = 1000');
      db.pragma('optimize');
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
  // The sink itself is closed by the server after onClose (it flushes into the still-open db).
  rt.onClose.push(async () => {
    clearInterval(timer);
    clearImmediate(atStart);
    abort.abort();
    await running;
  });

  const service: AuditService = {
    sink,
    query: (f, page) => queryAudit(db, f, page),
    export: (f, format, opts) => exportAudit(db, f, format, opts),
    recordAdminAction: (a) => recordAdminAction(db, deps.clock, a),
    queryAdmin: (page) => queryAdminAudit(db, page),
    runRetention: retention,
  };
  deps.services.audit = service;
  return service;
}
