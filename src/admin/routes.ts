// The admin API (/api/*, contract section 5) and the admin UI, on the admin listener only.
// Order: security headers on everything; JSON errors for /api; the UI files; authentication (session
// + CSRF, or admin API key) for every /api route except login/logout; then the routes.
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Runtime } from '../http/runtime.js';
import { registerAuditRoutes } from './audit-routes.js';
import { OPEN_ROUTES, principal, registerAuthRoutes, requireAdmin } from './auth.js';
import { describeConfig, putConfig } from './config-service.js';
import { apiErrors, readJson, securityHeaders } from './http-util.js';
import { registerOverviewRoutes } from './overview.js';
import { serveAdminUi } from './static.js';
import { registerTestRoute } from './test-route.js';
import { registerDiscoveryRoute } from './discovery.js';
import { registerTokenRoutes } from './token-routes.js';
import { registerRolloutRoutes } from './rollout-routes.js';
import { recordAdminAction } from './activity.js';
import { isObj } from './config-doc.js';

/** Admin API (/api/*) and UI routes. */
export function registerAdminRoutes(router: Router, rt: Runtime, app: Koa): void {
  app.use(securityHeaders());
  app.use(apiErrors(rt.deps.logger));
  app.use(serveAdminUi());
  app.use(requireAdmin(rt, OPEN_ROUTES));

  registerAuthRoutes(router, rt);

  router.get('/api/config', async (ctx) => {
    ctx.body = await describeConfig(rt);
  });
  // Body: the configuration document (as GET returns it in `config`), or {config: document}.
  router.put('/api/config', async (ctx) => {
    const body = await readJson(ctx);
    const keys = Object.keys(body);
    const doc = keys.length === 1 && keys[0] === 'config' && isObj(body.config) ? body.config : body;
    const actor = principal(ctx).username;
    const result = await putConfig(rt, doc, actor, (changes) => recordAdminAction(rt, { actor, action: 'config.update', target: rt.configFile ?? 'database', after: { changes } }));
    ctx.body = { ...(await describeConfig(rt)), changes: result.changes, restartRequired: result.restartRequired };
  });

  registerTestRoute(router, rt);
  registerDiscoveryRoute(router, rt);
  registerTokenRoutes(router, rt);
  registerAuditRoutes(router, rt);
  registerOverviewRoutes(router, rt);
  registerRolloutRoutes(router, rt);
}
