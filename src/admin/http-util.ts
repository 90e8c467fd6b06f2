// Small Koa helpers for the admin API: JSON errors, a bounded JSON body reader, security headers.
import { randomUUID } from 'node:crypto';
import { continueIfExpected } from '../expect-continue.js';
import type { Context, Middleware } from 'koa';
import { SidecarError, toErrorResponse } from '../errors.js';
import { isStoreUnavailable } from '../store/unavailable.js';
import type { Logger } from '../log.js';

/**
 * Every admin response: no sniffing, no framing, no referrer. The CSP allows only our own files:
 * no inline script or style, so injected markup cannot run even if some text escaped escaping.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function securityHeaders(): Middleware {
  return async function securityHeaders(ctx, next) {
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    await next();
  };
}

/** /api/* errors become the contract's JSON refusal {error, message, requestId}; never cached. */
export function apiErrors(logger: Logger): Middleware {
  return async function apiErrors(ctx, next) {
    if (!ctx.path.startsWith('/api/')) return next();
    const id = randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new SidecarError('not_found');
      if (ctx.status === 405 && ctx.body === undefined) throw new SidecarError('bad_request', { message: `Method ${ctx.method} is not allowed here.` });
    } catch (thrown) {
      // The store out of reach (PostgreSQL down, SQLite busy): 503, so clients and load balancers retry.
      const err = !(thrown instanceof SidecarError) && isStoreUnavailable(thrown) ? new SidecarError('store_unavailable', { detail: String((thrown as Error)?.message ?? thrown), cause: thrown }) : thrown;
      if (!(err instanceof SidecarError)) logger.error({ err, requestId: id, path: ctx.path }, 'admin API error');
      else if (err.code === 'store_unavailable') logger.warn({ requestId: id, path: ctx.path, detail: err.detail }, 'admin API: store unavailable');
      const r = toErrorResponse(err, id);
      ctx.status = r.status;
      for (const [k, v] of Object.entries(r.headers)) ctx.set(k, v);
      ctx.body = r.body;
    }
  };
}

const MAX_BODY = 1024 * 1024;

/** Reads a JSON object body (application/json only: a cross-site form cannot send one without CORS). */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  const type = (ctx.get('content-type') || '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new SidecarError('bad_request', { message: 'Send a JSON body with Content-Type: application/json.' });
  continueIfExpected(ctx.req, ctx.res);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new SidecarError('bad_request', { message: 'The request body is too large.' });
    chunks.push(c);
  }
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new SidecarError('bad_request', { message: 'The request body is not valid JSON.' });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new SidecarError('bad_request', { message: 'The request body must be a JSON object.' });
  return v as Record<string, unknown>;
}

/** A field problem as a 400 with issues[] (the UI shows each message beside its field). */
export function fieldError(path: string, message: string): SidecarError {
  return new SidecarError('bad_request', { message: `${path}: ${message}`, issues: [{ path, message }] });
}

export function optString(body: Record<string, unknown>, key: string, max = 4096): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw fieldError(key, 'must be a string');
  if (v.length > max) throw fieldError(key, `must be at most ${max} characters`);
  return v;
}

export function reqString(body: Record<string, unknown>, key: string, max = 4096): string {
  const v = optString(body, key, max);
  if (v === undefined) throw fieldError(key, 'is required');
  return v;
}
