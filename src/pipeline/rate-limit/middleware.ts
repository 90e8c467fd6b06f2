import type { Middleware } from 'koa';
import type { RequestState } from '../state.js';
import { rateLimitHeaders } from './plan.js';

/**
 * RateLimit-* on allowed responses: the rate-limit step cannot touch koa's ctx, so this copies
 * state.rateLimit onto the response before forward (forward keeps headers set here over Jira's).
 * Refusals (429) carry the same headers through the error itself.
 */
export function rateLimitResponseHeaders(): Middleware {
  return async function setRateLimitHeaders(ctx, next) {
    const rl = (ctx.state as RequestState).rateLimit;
    if (rl) for (const [k, v] of Object.entries(rateLimitHeaders(rl))) ctx.set(k, v);
    await next();
  };
}
