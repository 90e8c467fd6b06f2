// The proxy listener's request handler: the pipeline (pipeline/index.ts) and nothing else, plus the
// listener-level extra routes (/_sidecar/tokens self-service). Every request the extra routes cannot
// be for runs the stages on a lean context (below) instead of Koa's: Koa builds a context, a request
// and a response object per request and watches the response with on-finished, about 14 µs of CPU
// per request here (a passthrough measured with and without it, ../shared/bench-peers' wrk load),
// for features the stages do not use. Requests to /_sidecar/ go through Koa, as the routes expect.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import Koa from 'koa';
import compose from 'koa-compose';
import type { Middleware } from 'koa';
import { stages } from '../pipeline/index.js';
import type { ProxyContext } from '../pipeline/context.js';
import type { Deps } from '../pipeline/deps.js';
import { catalogue, proxyErrorBody } from '../errors.js';

/**
 * Where the extra routes live. Each of them passes an origin-form target outside its own base
 * (/_sidecar/tokens…) straight on to the stages, so the lean context serves exactly the requests
 * they would have passed on unread.
 */
const EXTRA_ROUTES_PREFIX = '/_sidecar/';

/** Statuses whose answer has no body (RFC 9110: 204, 205, 304), as Koa's `statuses.empty`. */
const EMPTY_STATUS = new Set([204, 205, 304]);

/**
 * The ProxyContext of one request without Koa: what Koa's context does for the stages (status,
 * JSON body, headers, the final write), with the same answers byte for byte.
 */
class LeanContext implements ProxyContext {
  state: unknown = undefined;
  respond?: boolean;
  body: unknown = undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    res.statusCode = 404; // as Koa: nothing answered is a 404
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  get status(): number {
    return this.res.statusCode;
  }

  set status(code: number) {
    if (!this.res.headersSent) this.res.statusCode = code;
  }

  set(field: string, value: string): void {
    if (!this.res.headersSent) this.res.setHeader(field, value);
  }
}

/** Koa's respond() for the answers the stages give: no body, or a JSON object (a refusal). */
function respond(ctx: LeanContext): void {
  if (ctx.respond === false) return;
  const res = ctx.res;
  if (res.writableEnded || (res.socket && !res.socket.writable)) return void res.end();
  const code = res.statusCode;
  if (EMPTY_STATUS.has(code)) {
    if (!res.headersSent) for (const h of ['Content-Type', 'Content-Length', 'Transfer-Encoding']) res.removeHeader(h);
    return void res.end();
  }
  const body = ctx.body;
  if (body === undefined || body === null) {
    // Nothing answered (no stage does this today): Koa's plain-text status line.
    const text = STATUS_CODES[code] ?? String(code);
    if (!res.headersSent) {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(text));
    }
    return void res.end(ctx.method === 'HEAD' ? undefined : text);
  }
  // The stages' bodies are JSON objects (refusals): Koa's JSON answer.
  const text = JSON.stringify(body);
  if (!res.headersSent) {
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
  }
  res.end(ctx.method === 'HEAD' ? undefined : text);
}

/**
 * Something the outermost stage (request-id, which answers every error as JSON) let through: a bug.
 * The client still gets a JSON 500, or a cut stream when the head has left.
 */
function fail(ctx: LeanContext, d: Deps, err: unknown): void {
  d.logger.error({ err }, 'unexpected error outside the pipeline');
  const res = ctx.res;
  if (res.headersSent || res.writableEnded) return void res.destroy();
  const body = JSON.stringify(proxyErrorBody('internal_error', catalogue.internal_error.message, ''));
  res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

export type ProxyHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The proxy listener's handler: the stages, with the extra routes behind request-id on /_sidecar/. */
export function createProxyApp(d: Deps, extra: Middleware[] = []): ProxyHandler {
  const [first, ...rest] = stages(d);
  // The stages are typed on ProxyContext, a subset of Koa's Context: they run in Koa as they are.
  const koa = new Koa({ proxy: false });
  koa.silent = true; // errors are turned into JSON by the request-id stage and logged there
  koa.use(first! as Middleware);
  for (const m of extra) koa.use(m);
  for (const m of rest) koa.use(m as Middleware);
  const viaKoa = koa.callback();

  const pipeline = compose<ProxyContext>([first!, ...rest] as Array<compose.Middleware<ProxyContext>>);
  return function proxy(req, res) {
    const target = req.url ?? '';
    // Absolute-form and asterisk targets, and /_sidecar/…: the extra routes may be meant.
    if (extra.length && (!target.startsWith('/') || target.startsWith(EXTRA_ROUTES_PREFIX))) return void viaKoa(req, res);
    const ctx = new LeanContext(req, res);
    pipeline(ctx).then(
      () => respond(ctx),
      (err: unknown) => fail(ctx, d, err),
    );
  };
}

