import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { ProxyContext, ProxyMiddleware } from '../context.js';
import { SidecarError, toErrorResponse } from '../../errors.js';
import type { Deps } from '../deps.js';
import type { Logger } from '../../log.js';
import type { RequestState } from '../state.js';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The warm-up's marker, compared in constant time (only while a warm-up runs). */
function isWarmup(sent: string | string[] | undefined, secret: string): boolean {
  if (typeof sent !== 'string' || sent.length !== secret.length) return false;
  return timingSafeEqual(Buffer.from(sent), Buffer.from(secret));
}

/** Client X-Request-Id kept only when it is a safe token (no log/header injection), else generated. */
export function pickRequestId(sent: string | string[] | undefined): string {
  return typeof sent === 'string' && SAFE_ID.test(sent) ? sent : randomUUID();
}

/** X-Request-Id and the headers stages added (state.responseHeaders) on an answer Koa writes. */
function setOwnHeaders(ctx: ProxyContext, state: RequestState): void {
  ctx.set('X-Request-Id', state.requestId);
  const h = state.responseHeaders;
  if (h) for (let i = 0; i < h.length; i += 2) ctx.set(h[i]!, h[i + 1]!);
}

/**
 * Outermost: creates the request state (one policy snapshot per request), sets X-Request-Id on
 * every response, and turns any thrown error into the contract's JSON refusal.
 */
export function requestId(d: Deps): ProxyMiddleware {
  // Not async: a promise chain (no async frame to resume per request); every throw and rejection
  // still ends in respondWithError.
  return function requestId(ctx, next) {
    const req = ctx.req;
    const id = pickRequestId(req.headers['x-request-id']);
    const state: RequestState = {
      requestId: id,
      policy: d.getPolicy(),
      facts: {
        method: req.method ?? 'GET',
        rawTarget: req.url ?? '/',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        peerIp: req.socket.remoteAddress ?? '',
        receivedAt: d.clock.now(),
      },
      verdicts: [],
      // Set here on every request, so the warm-up's states have the same shape (V8 map) as real
      // ones: code compiled on the warm-up is then not thrown away by the first real request.
      warmup: d.warmupSecret !== undefined && isWarmup(req.headers['x-sidecar-warmup'], d.warmupSecret),
    };
    ctx.state = state;
    const failed = (err: unknown) => respondWithError(ctx, state, err, d.logger);
    // node keeps every field (maxHeadersCount 0 on the proxy listener), so none was dropped unjudged.
    if (req.rawHeaders.length > 2 * state.policy.config.server.maxHeaderCount) {
      failed(new SidecarError('too_many_headers', { detail: `${req.rawHeaders.length / 2} header fields, at most ${state.policy.config.server.maxHeaderCount}` }));
      return Promise.resolve();
    }
    return next().then(() => {
      // Answers Koa writes (/_sidecar/tokens) get the id here; forward writes its own head with it.
      try {
        if (ctx.respond !== false) setOwnHeaders(ctx, state);
      } catch (err) {
        failed(err);
      }
    }, failed);
  };
}

/**
 * The contract's JSON refusal for a thrown value (a SidecarError's code and status; anything else is
 * a logged 500 internal_error). Used here for whatever reaches the outermost stage, and by the
 * decision stages for their own refusals, which they answer in place instead of rethrowing through
 * every outer async frame (a rejection per frame: several µs per refusal under attack).
 */
export function respondWithError(ctx: ProxyContext, state: RequestState, err: unknown, logger: Logger): void {
  if (!(err instanceof SidecarError)) logger.error({ err, requestId: state.requestId }, 'unexpected error');
  else if (err.status >= 500) logger.warn({ requestId: state.requestId, code: err.code, detail: err.detail }, 'request failed');
  if (ctx.respond === false && ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  ctx.respond = true;
  const r = toErrorResponse(err, state.requestId, { jira: true });
  ctx.status = r.status;
  setOwnHeaders(ctx, state);
  for (const [k, v] of Object.entries(r.headers)) ctx.set(k, v);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = r.body;
}
