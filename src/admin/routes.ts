// The admin API (/api/*, contract section 5) and the admin UI, on the admin listener only.
// Order: security headers on everything; JSON errors for /api; the UI files; authentication (session
// + CSRF, or admin API key) for every /api route except login/logout; then the routes.
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Runtime } from '../http/runtime.js';
import { registerAuditRoutes } from './audit-routes.js';
import { OPEN_ROUTES, principal, registerAuthRoutes, requireAdmin } from './auth.js';
import { describeConfig, putConfig, reloadConfig } from './config-service.js';
import { SidecarError } from '../errors.js';
import { apiErrors, readJson, securityHeaders } from './http-util.js';
import { registerOverviewRoutes } from './overview.js';
import { serveAdminUi } from './static.js';
import { registerTestRoute } from './test-route.js';
import { registerDiscoveryRoute } from './discovery.js';
import { registerTokenRoutes } from './token-routes.js';
import { registerTokenRequestRoutes } from './token-request-routes.js';
import { registerRolloutRoutes } from './rollout-routes.js';
import { registerNotificationRoutes } from './notification-routes.js';
import { registerStatusRoutes } from './status-routes.js';
import { registerTokenUsageRoutes } from './token-usage-routes.js';
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

  // Re-reads the config file (as SIGHUP does); 400 config_invalid when it does not validate (nothing changed).
  router.post('/api/reload', async (ctx) => {
    const actor = principal(ctx).username;
    const r = await reloadConfig(rt);
    if (r.result === 'invalid') throw new SidecarError('config_invalid', { message: `The configuration file does not validate (${r.issues.length} problem(s)); nothing was changed.`, issues: r.issues });
    if (r.result === 'ok') await recordAdminAction(rt, { actor, action: 'config.reload', target: rt.configFile ?? 'database', after: { changes: r.changes, restartRequired: r.restartRequired } });
    ctx.body = r;
  });

  registerTestRoute(router, rt);
  registerDiscoveryRoute(router, rt);
  registerTokenRoutes(router, rt);
  registerTokenUsageRoutes(router, rt); // GET /api/tokens/:id/usage: requests per day and refusals (audit log)
  registerTokenRequestRoutes(router, rt); // apiTokens.approval: pending requests, approve / deny
  registerAuditRoutes(router, rt);
  registerOverviewRoutes(router, rt);
  registerRolloutRoutes(router, rt);
  registerNotificationRoutes(router, rt);
  registerStatusRoutes(router, rt); // GET /api/status: /readyz and /metrics for a person
}
