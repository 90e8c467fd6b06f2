import Koa from 'koa';
import Router from '@koa/router';
import type { Runtime } from './runtime.js';
import { registerAdminRoutes } from '../admin/routes.js';
import { configSyncState } from '../admin/config-service.js';
import { runReadinessChecks } from './readiness.js';
import { metricsText } from './cluster-worker.js';

/** The admin listener: health, readiness, metrics, admin API and UI. Never on the proxy port. */
export function createAdminApp(rt: Runtime): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true;
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const results = await runReadinessChecks(rt);
    const missing = results.filter((r) => !r.ok);
    ctx.status = missing.length ? 503 : 200;
    const sync = configSyncState(rt);
    ctx.body = {
      status: missing.length ? 'not_ready' : 'ready',
      missing: missing.map((m) => m.name),
      checks: results,
      replica: rt.stores.audit.replica,
      store: rt.stores.kind,
      // version: this process's configuration (bumped by every swap); stored: the saved one it applied; syncedAt: its last check of the store.
      config: { version: rt.deps.getPolicy().version, stored: sync.applied, syncedAt: sync.syncedAt === undefined ? null : new Date(sync.syncedAt).toISOString() },
    };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = rt.deps.metrics.registry.contentType;
    ctx.body = await metricsText(rt.deps.metrics.registry); // server.workers > 1: summed over the workers
  });
  registerAdminRoutes(router, rt, app);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
