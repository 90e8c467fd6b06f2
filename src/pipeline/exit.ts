// What happens when a request that reached the pipeline ends, however it ends: the stages that
// count, time and audit it are recorders, run by one settlement handler (one promise per request
// for all of them, instead of one each).
import type { ProxyContext, ProxyMiddleware } from './context.js';
import type { RequestState } from './state.js';

/** Called once per request at its end: `err` is what was thrown (undefined when it ended normally). */
export type ExitRecorder = (st: RequestState, err: unknown, fallbackStatus: number) => void;

/** The recorders as one middleware; they run in order, after everything inside has finished. */
export function recordExits(...recorders: ExitRecorder[]): ProxyMiddleware {
  // The start-up warm-up's own requests (state.warmup) reach the recorders too, so their code is
  // compiled before real traffic; each recorder leaves no trace of them (no row, no count, no span).
  const record = (ctx: ProxyContext, err: unknown) => {
    const st = ctx.state as RequestState;
    for (const r of recorders) r(st, err, ctx.status);
  };
  // Not async: a promise chain, as a try/finally around `await next()` would run (no async frame
  // to resume per request).
  return function recordExits(ctx, next) {
    return next().then(
      () => record(ctx, undefined),
      (e: unknown) => {
        // The JSON refusal is written by request-id (outside us), so ctx.status is not final yet: the
        // recorders take status and code from the error itself (outcome.ts).
        record(ctx, e);
        throw e;
      },
    );
  };
}
