import type Router from '@koa/router';
import type Koa from 'koa';
import type { Runtime } from '../http/runtime.js';

/** Admin API (/api/*) and UI routes. FOUNDATION: none yet; the admin issues add them here. */
export function registerAdminRoutes(_router: Router, _rt: Runtime, _app: Koa): void {}
