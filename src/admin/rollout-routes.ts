// Safe rollout (issue 18) on the admin API:
//   GET  /api/readiness?since=7d                  who would break, per credential kind and report-mode rule
//   GET  /api/readiness/export?since=7d&switch=ID one switch's tables as CSV
//   POST /api/replay {config, since, against?}    a candidate config replayed over recorded traffic, compared
//                                                 with what happened or (against: current) with the current config
// All read only; the candidate is checked as PUT /api/config checks it and never saved.
import type Router from '@koa/router';
import type { Runtime } from '../http/runtime.js';
import { SidecarError } from '../errors.js';
import { parseDuration } from '../rollout/scan.js';
import { readinessCsv, readinessReport } from '../rollout/readiness.js';
import { replayPeriod } from '../rollout/what-if.js';
import { checkCandidate } from './config-service.js';
import { isObj } from './config-doc.js';
import { fieldError, readJson } from './http-util.js';
import type { ReadinessReport, ReplayResult } from './wire.js';

/** The longest period a report or replay reads (the audit log's retention bounds it anyway). */
const MAX_PERIOD_MS = 400 * 86_400_000;
const DEFAULT_SINCE = '7d';

/** `since` (a duration such as 7d, 24h, 90m) -> [from, to) ending now; a 400 naming the field otherwise. */
export function periodOf(since: unknown, now: number): { from: number; to: number } {
  const s = since === undefined || since === '' ? DEFAULT_SINCE : since;
  const ms = typeof s === 'string' ? parseDuration(s) : undefined;
  if (ms === undefined || ms <= 0 || ms > MAX_PERIOD_MS) throw fieldError('since', 'must be a duration such as 7d, 24h or 90m (at most 400d)');
  return { from: now - ms, to: now + 1 };
}

export function registerRolloutRoutes(router: Router, rt: Runtime): void {
  router.get('/api/readiness', async (ctx) => {
    const { from, to } = periodOf(ctx.query.since, rt.deps.clock.now());
    ctx.set('Cache-Control', 'no-store');
    // The admin UI reads this as wire.ts ReadinessReport: the compiler keeps the two in step.
    const report: ReadinessReport = await readinessReport(rt.stores.audit, from, to);
    ctx.body = report;
  });

  router.get('/api/readiness/export', async (ctx) => {
    const { from, to } = periodOf(ctx.query.since, rt.deps.clock.now());
    const id = typeof ctx.query.switch === 'string' ? ctx.query.switch : '';
    const report = await readinessReport(rt.stores.audit, from, to, { topN: 100_000 });
    const s = report.switches.find((x) => x.id === id);
    if (!s) throw new SidecarError('not_found', { message: `No switch "${id.slice(0, 100)}" in this period; GET /api/readiness lists them.` });
    ctx.set('Content-Disposition', `attachment; filename="readiness-${id.replace(/[^A-Za-z0-9_-]+/g, '-')}.csv"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/csv; charset=utf-8';
    ctx.body = readinessCsv(s);
  });

  router.post('/api/replay', async (ctx) => {
    const body = await readJson(ctx);
    if (!isObj(body.config)) throw fieldError('config', 'must be the candidate configuration document (as GET /api/config returns it in "config")');
    const { from, to } = periodOf(body.since, rt.deps.clock.now());
    const against = body.against ?? 'recorded';
    if (against !== 'recorded' && against !== 'current') throw fieldError('against', 'must be "recorded" (what happened) or "current" (the current config replayed the same way)');
    const { policy } = checkCandidate(rt, body.config);
    // The admin UI's save preview reads this as wire.ts ReplayResult.
    const result: ReplayResult = await replayPeriod(rt.stores.audit, policy, from, to, against === 'current' ? { baseline: rt.deps.getPolicy() } : {});
    ctx.body = result;
  });
}
