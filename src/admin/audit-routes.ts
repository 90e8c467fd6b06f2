// GET /api/audit (filtered, keyset-paged, newest first) and GET /api/audit/export (streamed CSV or
// NDJSON, oldest first). Mounted by the admin routes behind admin authentication; both only read.
import type Router from '@koa/router';
import type { Runtime } from '../http/runtime.js';
import { SidecarError } from '../errors.js';
import type { AuditPageView } from './wire.js';
import { AuditFilterError, parseAuditFilters } from '../audit/filters.js';
import type { ExportFormat } from '../audit/export.js';

type Query = Record<string, string | string[] | undefined>;

/** Runs fn, turning a bad filter or cursor into 400 bad_request naming the field. */
export async function asBadRequest<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AuditFilterError) {
      const what = e.problems.length === 1 ? `Invalid audit filter ${e.message}.` : `Invalid audit filters: ${e.problems.map((p) => p.field).join(', ')}.`;
      throw new SidecarError('bad_request', { message: what, issues: e.problems.map((p) => ({ path: p.field, message: p.message })) });
    }
    throw e;
  }
}

function auditService(rt: Runtime) {
  const a = rt.deps.services.audit;
  if (!a) throw new SidecarError('internal_error', { detail: 'audit service not installed' });
  return a;
}

export function registerAuditRoutes(router: Router, rt: Runtime): void {
  router.get('/api/audit', async (ctx) => {
    const q = ctx.query as Query;
    const limit = q.limit === undefined ? undefined : Number(q.limit);
    const cursor = typeof q.cursor === 'string' && q.cursor ? q.cursor : undefined;
    // The admin UI reads these rows as wire.ts AuditEntryView: the compiler keeps the two in step.
    const filters = await asBadRequest(() => {
      if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new AuditFilterError('limit', 'a positive integer (at most 1000 are returned)');
      return parseAuditFilters(q);
    });
    const page: AuditPageView = await asBadRequest(() => auditService(rt).query(filters, { limit, cursor }));
    // The total is counted once, for the first page (the UI keeps it while paging).
    if (!cursor) page.total = await rt.stores.audit.count(filters);
    ctx.body = page;
  });

  router.get('/api/audit/export', async (ctx) => {
    const q = ctx.query as Query;
    const format = (typeof q.format === 'string' ? q.format : 'csv') as ExportFormat;
    const filters = await asBadRequest(() => {
      if (format !== 'csv' && format !== 'ndjson') throw new AuditFilterError('format', 'csv or ndjson');
      return parseAuditFilters(q);
    });
    const stamp = new Date(rt.deps.clock.now()).toISOString().replace(/[:.]/g, '-');
    ctx.set('Content-Disposition', `attachment; filename="audit-${stamp}.${format}"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/x-ndjson';
    ctx.body = auditService(rt).export(filters, format);
  });
}
