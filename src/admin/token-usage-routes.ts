// GET /api/tokens/:id/usage: one token's requests per day over the last 30 days and its refusals,
// counted in the audit log by token id (the store's count(), on its token index). Kept cheap: the
// admin UI asks per token shown, and an answer is reused for a minute.
import type Router from '@koa/router';
import type { Runtime } from '../http/runtime.js';
import { SidecarError } from '../errors.js';
import type { TokenUsageView } from './wire.js';

const DAY = 86_400_000;
export const USAGE_DAYS = 30;
const CACHE_MS = 60_000;
const CACHE_MAX = 1000;

export function registerTokenUsageRoutes(router: Router, rt: Runtime): void {
  const cache = new Map<string, { at: number; view: TokenUsageView }>();
  router.get('/api/tokens/:id/usage', async (ctx) => {
    const id = ctx.params.id ?? '';
    if (!/^[\w-]{1,128}$/.test(id)) throw new SidecarError('bad_request', { message: 'Not a token id.', issues: [{ path: 'id', message: 'not a token id' }] });
    const now = rt.deps.clock.now();
    const hit = cache.get(id);
    if (hit && now - hit.at < CACHE_MS) {
      ctx.body = hit.view;
      return;
    }
    const audit = rt.stores.audit;
    const from = now - USAGE_DAYS * DAY;
    const starts = Array.from({ length: USAGE_DAYS }, (_, i) => from + i * DAY);
    const [perDay, refusals] = await Promise.all([
      Promise.all(starts.map(async (t) => ({ t: new Date(t).toISOString(), requests: await audit.count({ token: id, from: t, to: t + DAY }) }))),
      audit.count({ token: id, from, to: now, decision: 'deny' }),
    ]);
    const view: TokenUsageView = { id, days: USAGE_DAYS, from: new Date(from).toISOString(), to: new Date(now).toISOString(), perDay, requests: perDay.reduce((a, b) => a + b.requests, 0), refusals };
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(id, { at: now, view });
    ctx.body = view;
  });
}
