// Start-up warm-up for rolling restarts: before /readyz says ready, the sidecar sends itself
// server.warmupRequests requests over loopback, through its real proxy listener and pipeline, so
// the hot path (node:http, Koa, the stages, JSON refusals) is compiled before a load balancer sends
// real traffic. The requests carry a random per-process marker (X-Sidecar-Warmup): they are judged
// like any request, then the forward stage sends the allowed ones to the warm-up's own answering
// server on loopback (a Jira-like JSON answer) instead of Jira, through the same code, so the path
// to Jira and back is compiled too. Their audit rows are built and encoded, then dropped, and they
// are not counted (their rate-limit points go to a limiter of their own). The marker means nothing
// before or after the warm-up.
//
// The mix: an anonymous request (a passthrough, or a refusal where anonymous is denied), an unsigned
// JWT (alg none: decoded and refused before any key is looked up, whatever issuers are configured),
// a malformed bearer (with introspection on: opaque tokens, asked about at the stand-in, never at
// the IdP: IntrospectionVerifier.beginWarmup), and, when JWT issuers are configured, half the requests with JWTs of the
// first one: tokens signed at start with a throw-away key (verify/jwt/warm-up.ts; each one verified
// once, then served from the cache of verified tokens, as real traffic mostly is) and never-seen
// forgeries of them (a random signature each). First every issuer's keys are fetched and imported
// (JwtVerifier.beginWarmup): readiness then knows the keys, and the first real token of each key
// pays no import. Nothing reaches Jira or an identity provider: the throw-away key is served from
// memory, to requests carrying the marker only, and forgotten with every cached result when the
// warm-up ends. The audit writer is readied with an empty batch (AuditSink.warm: the SQLite
// writer's worker thread would otherwise start on the first real row, in the first second of load).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { buildConnector, Pool } from 'undici';
import type { Deps } from '../pipeline/deps.js';

const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const CONNECTIONS = 8;
/** Distinct valid warm-up tokens (each verified once, then cached): signing them is part of the start. */
const JWT_TOKENS = 100;
/** Distinct opaque warm-up tokens (each asked about at the stand-in once, then cached). */
const OPAQUE_TOKENS = 20;
const INTROSPECT_PATH = '/introspect';

/**
 * How the warm-up reaches its own HTTPS listener: on loopback, trusting exactly the certificate that
 * listener serves (its SHA-256 fingerprint), whatever CA issued it and whichever names it carries.
 */
function pinnedConnector(servedFingerprint: () => string | undefined): buildConnector.connector {
  // Chain and name checks cannot apply to a loopback address the certificate does not name; the
  // pin below is stricter: a connection presenting any other certificate is closed before use.
  const connect = buildConnector({ rejectUnauthorized: false });
  return (opts, cb) =>
    connect(opts, (err, socket) => {
      if (err || !socket) return cb(err ?? new Error('no socket'), null);
      const seen = (socket as TLSSocket).getPeerCertificate?.().fingerprint256;
      if (!seen || seen !== servedFingerprint()) {
        socket.destroy();
        return cb(new Error('warm-up: the listener presented another certificate than the one it serves'), null);
      }
      cb(null, socket);
    });
}

/** A GET /rest/api/2/myself answer as Jira gives it: what the warm-up's requests get back instead of Jira's. */
const LOCAL_BODY = Buffer.from(
  JSON.stringify({
    self: 'http://warm-up.invalid/rest/api/2/user?username=warm-up',
    key: 'warm-up',
    name: 'warm-up',
    emailAddress: 'warm-up@warm-up.invalid',
    displayName: 'Warm-up',
    active: true,
    deleted: false,
    timeZone: 'UTC',
    locale: 'en_US',
    groups: { size: 1, items: [] },
    applicationRoles: { size: 1, items: [] },
    expand: 'groups,applicationRoles',
  }),
);

/**
 * The warm-up's stand-in for Jira: a loopback server answering every request with LOCAL_BODY, and a
 * pool to it. It stands in for the introspection endpoint too (POST /introspect): every opaque token
 * is active, with the answer `introspection()` gives.
 */
async function startLocalUpstream(introspection: () => Record<string, unknown>): Promise<{ pool: Pool; url: string; answered: () => number; introspected: () => number; close(): Promise<void> }> {
  let answered = 0;
  let introspected = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === INTROSPECT_PATH) {
      req.resume();
      introspected++;
      const body = JSON.stringify(introspection());
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    req.resume();
    answered++;
    res.writeHead(200, { 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-cache, no-store, no-transform', 'X-AREQUESTID': `${answered}x1`, 'Content-Length': LOCAL_BODY.length });
    res.end(LOCAL_BODY);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // exclusive: in a cluster worker, a port of its own (listen(0) is otherwise shared through the primary).
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pool = new Pool(url, { connections: CONNECTIONS });
  return {
    pool,
    url,
    answered: () => answered,
    introspected: () => introspected,
    close: async () => {
      await pool.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function warmUp(proxyUrl: string, deps: Deps, requests: number, o: { servedFingerprint?: () => string | undefined } = {}): Promise<{ ms: number; sent: number; forwarded: number; introspected?: number; keysMs?: number }> {
  const started = performance.now();
  if (requests <= 0) return { ms: 0, sent: 0, forwarded: 0 };
  const verifier = deps.services.jwtVerifier;
  let signed: string[] | undefined;
  try {
    signed = await verifier?.beginWarmup(deps.getPolicy(), Math.min(JWT_TOKENS, Math.ceil(requests / 2)));
  } catch (e) {
    deps.logger.warn({ err: e }, 'warm-up: no JWT warm-up (the throw-away key could not be made)');
  }
  /** Fetching and importing the issuers' keys and signing the warm-up tokens. */
  const keysMs = Math.round(performance.now() - started);
  // Allowed requests go on to this stand-in for Jira (never to Jira): the forward path is compiled too.
  // It answers the introspection calls of the warm-up's opaque tokens as well (never the IdP): each
  // active, its user named in introspection.usernameField, in the first of access.allowedGroups, as
  // the warm-up's JWTs are.
  const introspectionAnswer = () => {
    const c = deps.getPolicy().config;
    const group = c.access.allowedGroups[0];
    return { active: true, [c.introspection.usernameField]: 'warm-up', ...(group !== undefined && { [c.introspection.groupsField]: [group] }), exp: Math.floor(Date.now() / 1000) + 300 };
  };
  const local = await startLocalUpstream(introspectionAnswer).catch((e: unknown) => void deps.logger.warn({ err: e }, 'warm-up: no local answering server; allowed warm-up requests are answered 204'));
  const introspector = local && deps.getPolicy().config.introspection.enabled ? deps.services.introspectionVerifier : undefined;
  if (local) introspector?.beginWarmup(`${local.url}${INTROSPECT_PATH}`);
  const secret = randomBytes(24).toString('base64url');
  deps.warmupSecret = secret;
  const now = Math.floor(Date.now() / 1000);
  const jwt = `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u({ iss: 'https://warm-up.invalid/', sub: 'warm-up', aud: 'warm-up', exp: now + 60 })}.`;
  // A malformed bearer, or, with introspection on, opaque tokens asked about at the stand-in.
  const opaque = introspector ? Array.from({ length: OPAQUE_TOKENS }, () => randomBytes(24).toString('base64url')) : ['not-a-credential'];
  let q = 0;
  const others: Array<() => Record<string, string>> = [() => ({}), () => ({ authorization: `Bearer ${jwt}` }), () => ({ authorization: `Bearer ${opaque[q++ % opaque.length]}` })];
  let t = 0;
  let f = 0;
  /** Request i's headers: of every 8, 4 valid JWTs, 1 never-seen forgery and the 3 others (without issuers: the 3 others only). */
  const headersOf = (i: number): Record<string, string> => {
    if (!signed) return others[i % others.length]!();
    const k = i % 8;
    if (k < 4) return { authorization: `Bearer ${signed[t++ % signed.length]}` };
    if (k === 4) {
      const token = signed[f++ % signed.length]!;
      const dot = token.lastIndexOf('.');
      return { authorization: `Bearer ${token.slice(0, dot + 1)}${randomBytes(Buffer.from(token.slice(dot + 1), 'base64url').length).toString('base64url')}` };
    }
    return others[k - 5]!();
  };
  deps.warmupUpstream = local?.pool;
  const pool = new Pool(proxyUrl, { connections: CONNECTIONS, ...(o.servedFingerprint ? { connect: pinnedConnector(o.servedFingerprint) } : {}) });
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < requests) {
      const i = next++;
      try {
        const r = await pool.request({ method: 'GET', path: '/rest/api/2/myself', headers: { 'x-sidecar-warmup': secret, ...headersOf(i) } });
        await r.body.dump();
        sent++;
      } catch {
        /* a warm-up request that fails warms less; it never fails the start */
      }
    }
  };
  try {
    // The audit writer is made ready meanwhile (on SQLite its worker thread starts on the first batch).
    const auditReady = deps.auditSink.warm?.().catch(() => undefined);
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    await auditReady;
  } finally {
    deps.warmupSecret = undefined;
    deps.warmupUpstream = undefined;
    verifier?.endWarmup();
    introspector?.endWarmup();
    await pool.close();
    await local?.close();
  }
  return { ms: Math.round(performance.now() - started), sent, forwarded: local?.answered() ?? 0, ...(introspector && { introspected: local?.introspected() ?? 0 }), ...(verifier ? { keysMs } : {}) };
}
