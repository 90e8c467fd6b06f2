// Streams the request to Jira and the answer back, both ways, without buffering (SSE arrives
// event by event). Upstream refused/reset -> 502, no response head within timeoutMs -> 504,
// client abort -> the upstream request is aborted. The connection pool is undici's (upstream-pool.ts).
import type http from 'node:http';
import { continueIfExpected } from '../../expect-continue.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyContext, ProxyMiddleware } from '../context.js';
import type { Dispatcher } from 'undici';
import { perPolicy } from '../../config/policy.js';
import { SidecarError } from '../../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Logger } from '../../log.js';
import type { RequestState } from '../state.js';
import { buildUpstreamHeaders, responseHeaderList } from './headers.js';
import { headerIdentity, type ForwardTarget, type IdentityForwarder, type IdentityPlan } from './identity.js';
import { UpstreamPools } from './upstream-pool.js';

export interface ForwardDeps {
  /** Connection pools to Jira (services.upstreamPools); a private one when not given. */
  pools?: UpstreamPools;
  metrics: Metrics;
  logger: Logger;
  /** Picks the identity forwarder for this request (default: header mode). */
  identityForwarder?: (state: RequestState) => IdentityForwarder;
  /** Where the start-up warm-up's requests go instead of Jira while it runs (Deps.warmupUpstream). */
  warmupUpstream?: () => Dispatcher | undefined;
}

/** "http://h/x/y?q" (absolute-form, RFC 9112 §3.2.2) -> "/x/y?q"; origin-form unchanged. */
export function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(target);
  if (!m) return '/';
  const rest = m[1] ?? '';
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** RFC 9110 §9.2.2: safe to send twice. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** A connection that closed before Jira answered (RFC 9112 §9.3.1: e.g. reused just as Jira's idle timeout closed it). */
const CLOSED_CONNECTION = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** upstream.url parsed once per config version (not per request). */
const upstreamTarget = perPolicy((c) => {
  const base = new URL(c.upstream.url);
  return { host: base.host, origin: base.origin, basePath: base.pathname.replace(/\/$/, '') };
});

/**
 * A class, not an object literal with a getter: a literal with an accessor is built on V8's slow
 * path on every request. The URL is parsed only when a forwarder asks (OAuth signing).
 */
class Target implements ForwardTarget {
  constructor(
    readonly method: string,
    private readonly origin: string,
    readonly path: string,
    readonly req: IncomingMessage,
  ) {}

  get url(): URL {
    return new URL(this.origin + this.path);
  }
}

export function forward(d: ForwardDeps): ProxyMiddleware {
  const pools = d.pools ?? new UpstreamPools();
  /** Sends the request with the identity plan made, and settles when the answer was relayed (or failed). */
  const exchange = (ctx: ProxyContext, st: RequestState, base: { host: string }, path: string, local: Dispatcher | undefined, plan: IdentityPlan | undefined) => {
    const headers = buildUpstreamHeaders({
      state: st,
      upstreamHost: base.host,
      proto: (ctx.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      identityHeaders: plan?.headers,
    });
    if (plan?.body) {
      for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === 'content-length') headers[i + 1] = String(plan.body.length);
    }
    ctx.respond = false;
    return new Promise<void>((resolve, reject) => {
      new Exchange(d, pools, local, st, ctx.req, ctx.res, plan, plan?.path ?? path, headers, resolve, (e) => {
        ctx.respond = true; // the error becomes a JSON answer (request-id), the head was not sent
        reject(e);
      }).send();
    });
  };
  const start = (ctx: ProxyContext): Promise<void> => {
    const st = ctx.state as RequestState;
    // The start-up warm-up's requests (judged like any request) never go to Jira: to the warm-up's
    // own answering server on loopback while it runs, through the same code (header identity only,
    // so no identity service is asked), else answered 204 here.
    const local = st.warmup ? d.warmupUpstream?.() : undefined;
    if (st.warmup && !local) {
      ctx.status = 204;
      return Promise.resolve();
    }
    const base = upstreamTarget(st.policy);
    const path = base.basePath + originForm(st.facts.rawTarget);
    // Judged and allowed: the client may now send a body it held back (before a forwarder reads it).
    continueIfExpected(ctx.req, ctx.res);
    const forwarder = local ? headerIdentity : (d.identityForwarder?.(st) ?? headerIdentity);
    const target = new Target(st.facts.method, base.origin, path, ctx.req);
    // Header mode answers synchronously: no extra promise or microtask hop unless a forwarder is async.
    const planned = forwarder(st, target);
    if (planned instanceof Promise) return planned.then((plan) => exchange(ctx, st, base, path, local, plan));
    return exchange(ctx, st, base, path, local, planned);
  };
  // Not async: the request's promise is the exchange's own (no async frame around it); whatever
  // throws before it is a rejection, as from an async function.
  return function forward(ctx) {
    try {
      return start(ctx);
    } catch (e) {
      return Promise.reject(e);
    }
  };
}

/**
 * One request to Jira and its answer, as an undici dispatch handler: the head goes to the client
 * with the first body chunk, body chunks are relayed with backpressure, failures map to 502/504.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private settled = false;
  private gotResponse = false;
  /** The response head was handed to the client: from here on a failure can only cut the stream. */
  private relaying = false;
  private retried = false;
  /** How many identity headers end `headers` (buildUpstreamHeaders appends them last). */
  private identityCount: number;
  private abortUpstream: ((reason?: Error) => void) | undefined;
  private cancelled: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly bodyless: boolean;
  private readonly replayable: boolean;
  private bytes = 0;
  private started = false;
  private resume: (() => void) | undefined;

  constructor(
    private readonly d: ForwardDeps,
    private readonly pools: UpstreamPools,
    /** A fixed destination instead of the policy's pool to Jira (the warm-up's own server). */
    private readonly fixed: Dispatcher | undefined,
    private readonly st: RequestState,
    private readonly clientReq: IncomingMessage,
    private readonly clientRes: ServerResponse,
    private readonly plan: IdentityPlan | undefined,
    private readonly path: string,
    private readonly headers: string[],
    private readonly resolve: () => void,
    private readonly reject: (e: unknown) => void,
  ) {
    // No body framing at all (RFC 9112 §6.3: length 0), or already read: nothing to stream.
    const cl = clientReq.headers['content-length'];
    this.bodyless = clientReq.readableEnded || ((cl === undefined || cl === '0') && clientReq.headers['transfer-encoding'] === undefined);
    this.replayable = IDEMPOTENT.has(st.facts.method) && (plan?.body !== undefined || this.bodyless);
    this.identityCount = plan?.headers.length ?? 0;
    const timeoutMs = st.policy.config.upstream.timeoutMs;
    this.timer = setTimeout(() => {
      d.metrics.upstreamErrors.inc({ kind: 'timeout' });
      this.done(new SidecarError('upstream_timeout', { detail: `no response head within ${timeoutMs} ms` }));
      this.cancel();
    }, timeoutMs);
    // 'close' is emitted once per response: `on` spares once's wrapper.
    clientRes.on('close', this.onClientClose);
  }

  send(): void {
    this.abortUpstream = undefined;
    (this.fixed ?? this.pools.get(this.st.policy)).dispatch(
      {
        path: this.path,
        method: this.st.facts.method,
        headers: this.headers,
        body: this.plan?.body ?? (this.bodyless ? null : this.clientReq),
      },
      this,
    );
  }

  /**
   * Sends again with identity headers built for this attempt (a fresh OAuth 1.0a nonce): only the
   * tail of the header list changes. Only a retry gets here: the first attempt's headers were built
   * once, before the Exchange.
   */
  private reidentify(reattempt: () => Promise<Array<[string, string]>>): void {
    const from = this.headers.length - 2 * this.identityCount;
    this.abortUpstream = undefined; // the failed attempt's: nothing left to abort while signing
    reattempt().then(
      (fresh) => {
        if (this.settled || this.cancelled) return; // timed out, or the client left, while signing
        this.headers.length = from;
        for (const [k, v] of fresh) this.headers.push(k, v);
        this.identityCount = fresh.length;
        this.send();
      },
      (e: unknown) => this.done(e),
    );
  }

  /** Abort the upstream request (now, or as soon as undici hands us the abort function). */
  private cancel(reason: Error = new Error('aborted by the sidecar')): void {
    this.cancelled ??= reason;
    this.abortUpstream?.(reason);
  }

  private done(err?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (err) this.reject(err);
    else this.resolve();
  }

  // Client went away: cancel the upstream request (and its response stream).
  private readonly onClientClose = () => {
    if (this.clientRes.writableFinished) return;
    this.cancel();
    if (!this.gotResponse && !this.settled) {
      this.st.upstreamStatus = this.st.upstreamStatus ?? 499;
      this.done();
    }
  };

  onConnect(abort: (reason?: Error) => void): void {
    if (this.cancelled) abort(this.cancelled);
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.settled) return false; // timed out meanwhile: the 504 is already on its way
    this.gotResponse = true;
    clearTimeout(this.timer);
    this.resume = resume;
    const st = this.st;
    st.upstreamStatus = statusCode;
    const raw: string[] = new Array(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i++) raw[i] = rawHeaders[i]!.toString('latin1');
    // Jira refused the identity we sent (OAuth problem, revoked mapped PAT): a 502 the operator
    // can act on instead of a 401 the client cannot fix. Nothing of Jira's answer is relayed.
    const rejected = this.plan?.checkResponse?.(statusCode, raw);
    if (rejected) {
      this.d.metrics.upstreamErrors.inc({ kind: 'identity_rejected' });
      this.done(rejected);
      this.cancel();
      return false;
    }
    // Headers of earlier stages (X-Request-Id, RateLimit-*) win over upstream copies.
    const own = ['X-Request-Id', st.requestId];
    if (st.responseHeaders) own.push(...st.responseHeaders);
    try {
      writeResponseHead(this.clientRes, statusCode, raw, own);
      this.relaying = true;
    } catch (e) {
      this.done(e);
      this.cancel();
      return false;
    }
    // The head goes out with the first body chunk (one write, not two); a stream whose body has
    // not started by the end of this turn (SSE) gets its head now, so the client sees it at once.
    queueMicrotask(() => {
      if (!this.started && !this.clientRes.destroyed) this.clientRes.flushHeaders();
    });
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.started = true;
    this.bytes += chunk.length;
    if (this.clientRes.write(chunk)) return true;
    this.clientRes.once('drain', this.resume!);
    return false;
  }

  onComplete(): void {
    this.started = true;
    this.st.bytesOut = this.bytes;
    this.clientRes.end();
    this.done();
  }

  onError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (this.relaying) {
      // Jira died mid-body (or the client left): the client sees a truncated response (status already sent).
      if (!this.cancelled) this.d.metrics.upstreamErrors.inc({ kind: 'reset' });
      this.st.bytesOut = this.bytes;
      this.clientRes.destroy();
      this.done();
      return;
    }
    if (this.settled || this.cancelled) return;
    // TLS to Jira failed (an unknown CA, a name Jira's certificate does not carry, a client
    // certificate Jira refused): a 502 naming the TLS error in the log, and never retried.
    const tls = this.pools.tlsFailure(err);
    if (tls) {
      this.d.metrics.upstreamErrors.inc({ kind: 'tls' });
      this.d.logger.warn({ requestId: this.st.requestId, upstream: upstreamTarget(this.st.policy).origin, tlsError: tls.code, reason: tls.reason }, 'TLS connection to Jira failed');
      return this.done(new SidecarError('upstream_unreachable', { detail: `TLS: ${tls.code} (${tls.reason})` }));
    }
    // RFC 9112 §9.3.1: Jira may close an idle keep-alive connection just as it is reused; the
    // request then fails before Jira read it. An idempotent request whose body we still hold is
    // sent once more on a fresh connection instead of turning into a 502.
    if (!this.retried && this.replayable && CLOSED_CONNECTION.has(code)) {
      this.retried = true;
      this.d.metrics.upstreamErrors.inc({ kind: 'stale_connection' });
      if (this.plan?.reattempt) this.reidentify(this.plan.reattempt);
      else this.send();
      return;
    }
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return this.done(err); // a request Jira cannot be sent: 500, logged
    this.d.metrics.upstreamErrors.inc({ kind: CLOSED_CONNECTION.has(code) ? 'reset' : 'unreachable' });
    const detail = code === 'UND_ERR_CONNECT_TIMEOUT' ? `no connection within ${this.st.policy.config.upstream.connectTimeoutMs} ms` : `${code} ${err.message}`.trim();
    this.done(new SidecarError('upstream_unreachable', { detail }));
  }
}

/**
 * One writeHead with a flat list keeps repeated fields (several Set-Cookie) and validates each once.
 * Headers someone set on the response before (a proxy route that called next) are kept, and win.
 */
function writeResponseHead(res: ServerResponse, status: number, upstreamRaw: string[], own: string[]): void {
  const preset = res.getHeaderNames();
  if (preset.length === 0) {
    res.writeHead(status, responseHeaderList(upstreamRaw, own) as unknown as http.OutgoingHttpHeaders);
    return;
  }
  for (const name of preset) {
    const v = res.getHeader(name)!;
    res.removeHeader(name);
    if (own.some((n, i) => i % 2 === 0 && n.toLowerCase() === name)) continue;
    for (const one of Array.isArray(v) ? v : [v]) own.push(name, String(one));
  }
  // writeHead(status, list) would setHeader (replace) each field once headers were set: append instead.
  const flat = responseHeaderList(upstreamRaw, own);
  for (let i = 0; i < flat.length; i += 2) res.appendHeader(flat[i]!, flat[i + 1]!);
  res.writeHead(status);
}
