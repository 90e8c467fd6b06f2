// Streams the request to Jira and the answer back, both ways, without buffering (SSE arrives
// event by event). Upstream refused/reset -> 502, no response head within timeoutMs -> 504,
// client abort -> the upstream request is destroyed.
import http, { type Agent, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import https from 'node:https';
import type { Middleware } from 'koa';
import { perPolicy } from '../../config/policy.js';
import { SidecarError } from '../../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Logger } from '../../log.js';
import type { RequestState } from '../state.js';
import { buildUpstreamHeaders, responseHeaderList } from './headers.js';
import { headerIdentity, type ForwardTarget, type IdentityForwarder } from './identity.js';

export interface ForwardDeps {
  agent: Agent;
  metrics: Metrics;
  logger: Logger;
  /** Picks the identity forwarder for this request (default: header mode). */
  identityForwarder?: (state: RequestState) => IdentityForwarder;
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

/** upstream.url parsed once per config version (not per request). */
const upstreamTarget = perPolicy((c) => {
  const base = new URL(c.upstream.url);
  const https_ = base.protocol === 'https:';
  return {
    lib: https_ ? https : http,
    protocol: base.protocol,
    hostname: base.hostname,
    port: base.port || (https_ ? 443 : 80),
    host: base.host,
    origin: base.origin,
    basePath: base.pathname.replace(/\/$/, ''),
  };
});

export function forward(d: ForwardDeps): Middleware {
  return async function forward(ctx) {
    const st = ctx.state as RequestState;
    const up = st.policy.config.upstream;
    const base = upstreamTarget(st.policy);
    const path = base.basePath + originForm(st.facts.rawTarget);
    const forwarder = d.identityForwarder?.(st) ?? headerIdentity;
    const target: ForwardTarget = {
      method: st.facts.method,
      get url() {
        return new URL(base.origin + path);
      },
      path,
      req: ctx.req,
    };
    // Header mode answers synchronously: no await (and no extra microtask hop) unless a forwarder is async.
    let planned = forwarder(st, target);
    if (planned instanceof Promise) planned = await planned;
    const plan = planned;
    // A forwarder may change the target (OAuth 1.0a adds xoauth_requestor_id to the query it signed).
    const upstreamPath = plan?.path ?? path;
    const headers = buildUpstreamHeaders({
      state: st,
      upstreamHost: base.host,
      proto: (ctx.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      identityHeaders: plan?.headers,
    });
    if (plan?.body) {
      for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === 'content-length') headers[i + 1] = String(plan.body.length);
    }
    const lib = base.lib;
    const clientReq = ctx.req;
    const clientRes = ctx.res;
    ctx.respond = false;
    // No body framing at all (RFC 9112 §6.3: length 0), or already read: nothing to stream.
    const cl = clientReq.headers['content-length'];
    const bodyless = clientReq.readableEnded || ((cl === undefined || cl === '0') && clientReq.headers['transfer-encoding'] === undefined);
    const replayable = IDEMPOTENT.has(st.facts.method) && (plan?.body !== undefined || bodyless);

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let gotResponse = false;
      const done = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          ctx.respond = true;
          reject(err);
        } else resolve();
      };
      let upReq!: http.ClientRequest;
      let retried = false;
      const send = () => {
        upReq = lib.request({
          agent: d.agent,
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method: st.facts.method,
          path: upstreamPath,
          headers: headers as unknown as http.OutgoingHttpHeaders,
          setHost: false,
        });
        upReq.once('socket', onSocket);
        upReq.on('error', onUpstreamError);
        upReq.on('response', onResponse);
        if (plan?.body) upReq.end(plan.body);
        else if (bodyless) upReq.end();
        else {
          clientReq.pipe(upReq);
          clientReq.on('error', () => upReq.destroy());
        }
      };
      const timer = setTimeout(() => {
        d.metrics.upstreamErrors.inc({ kind: 'timeout' });
        upReq.destroy();
        done(new SidecarError('upstream_timeout', { detail: `no response head within ${up.timeoutMs} ms` }));
      }, up.timeoutMs);

      // A fresh connection that does not complete in connectTimeoutMs is "unreachable" (502), not a
      // slow Jira (504): a blackholed address would otherwise hold the request for the whole timeoutMs.
      const onSocket = (sock: Socket) => {
        if (!sock.connecting) return; // a reused keep-alive socket
        const ct = setTimeout(() => {
          d.metrics.upstreamErrors.inc({ kind: 'unreachable' });
          done(new SidecarError('upstream_unreachable', { detail: `no connection within ${up.connectTimeoutMs} ms` }));
          upReq.destroy();
        }, up.connectTimeoutMs);
        sock.once('connect', () => clearTimeout(ct));
        sock.once('close', () => clearTimeout(ct));
      };

      // Client went away: cancel the upstream request (and its response stream).
      const onClientClose = () => {
        if (!clientRes.writableFinished) {
          upReq.destroy();
          if (!gotResponse) {
            st.upstreamStatus = st.upstreamStatus ?? 499;
            clearTimeout(timer);
            settled = true;
            resolve();
          }
        }
      };
      clientRes.once('close', onClientClose);

      const onUpstreamError = function (this: http.ClientRequest, err: NodeJS.ErrnoException) {
        if (settled || this !== upReq) return;
        if (gotResponse) return; // mid-stream failures are handled on the response
        // RFC 9112 §9.3.1: Jira may close an idle keep-alive connection just as it is reused; the
        // request then fails before Jira read it. An idempotent request whose body we still hold is
        // sent once more on a fresh connection instead of turning into a 502.
        if (!retried && this.reusedSocket && replayable && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          retried = true;
          d.metrics.upstreamErrors.inc({ kind: 'stale_connection' });
          send();
          return;
        }
        d.metrics.upstreamErrors.inc({ kind: err.code === 'ECONNRESET' ? 'reset' : 'unreachable' });
        done(new SidecarError('upstream_unreachable', { detail: `${err.code ?? ''} ${err.message}`.trim() }));
      };

      const onResponse = (upRes: IncomingMessage) => {
        gotResponse = true;
        clearTimeout(timer);
        st.upstreamStatus = upRes.statusCode ?? 502;
        // Jira refused the identity we sent (OAuth problem, revoked mapped PAT): a 502 the operator
        // can act on instead of a 401 the client cannot fix. Nothing of Jira's answer is relayed.
        const rejected = plan?.checkResponse?.(st.upstreamStatus, upRes.rawHeaders);
        if (rejected) {
          d.metrics.upstreamErrors.inc({ kind: 'identity_rejected' });
          upRes.resume();
          return done(rejected);
        }
        // Headers of earlier stages (X-Request-Id, RateLimit-*) win over upstream copies.
        const own = ['X-Request-Id', st.requestId];
        if (st.responseHeaders) own.push(...st.responseHeaders);
        try {
          writeResponseHead(clientRes, st.upstreamStatus, upRes.rawHeaders, own);
        } catch (e) {
          upRes.destroy();
          return done(e);
        }
        // The head goes out with the first body chunk (one write, not two); a stream whose body has
        // not started by the end of this turn (SSE) gets its head now, so the client sees it at once.
        let started = false;
        queueMicrotask(() => {
          if (!started && !clientRes.destroyed) clientRes.flushHeaders();
        });
        let bytes = 0;
        upRes.on('data', (chunk: Buffer) => {
          started = true;
          bytes += chunk.length;
          if (!clientRes.write(chunk)) {
            upRes.pause();
            clientRes.once('drain', () => upRes.resume());
          }
        });
        upRes.on('end', () => {
          started = true;
          st.bytesOut = bytes;
          clientRes.end();
          done();
        });
        upRes.on('error', () => {
          // Jira died mid-body: the client sees a truncated response (status already sent).
          d.metrics.upstreamErrors.inc({ kind: 'reset' });
          st.bytesOut = bytes;
          clientRes.destroy();
          done();
        });
        upRes.on('aborted', () => {
          clientRes.destroy();
          done();
        });
      };

      send();
    });
  };
}

/**
 * One writeHead with a flat list keeps repeated fields (several Set-Cookie) and validates each once.
 * Headers someone set on the response before (a proxy route that called next) are kept, and win.
 */
function writeResponseHead(res: http.ServerResponse, status: number, upstreamRaw: string[], own: string[]): void {
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
