import Koa from 'koa';
import { stages } from '../pipeline/index.js';
import type { Deps } from '../pipeline/deps.js';
import type { Middleware } from 'koa';

/** The proxy listener's app: the pipeline and nothing else (plus listener-level extra routes). */
export function createProxyApp(d: Deps, extra: Middleware[] = []): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true; // errors are turned into JSON by the request-id stage and logged there
  const [first, ...rest] = stages(d);
  app.use(first!);
  for (const m of extra) app.use(m); // e.g. /_sidecar/tokens self-service, behind request-id
  for (const m of rest) app.use(m);
  return app;
}
