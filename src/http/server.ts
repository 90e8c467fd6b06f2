// Starts one sidecar: database, policy, the two listeners, graceful shutdown.
import http, { type Server } from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { compilePolicy, type Policy } from '../config/policy.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { openStores } from '../store/open.js';
import { createMetrics } from '../pipeline/metrics/metrics.js';
import { NullAuditSink } from '../pipeline/audit/sink.js';
import type { Deps } from '../pipeline/deps.js';
import { createProxyApp } from './proxy-app.js';
import { createAdminApp } from './admin-app.js';
import { warmUp } from './warm-up.js';
import type { Runtime } from './runtime.js';
import { buildServices } from './services.js';
import { catalogue, proxyErrorBody } from '../errors.js';
import { ListenerTls, tlsReadiness } from './tls.js';
import { workerRole } from '../worker-role.js';
import { adaptWorkerStores } from './cluster-worker.js';

export interface StartOptions {
  config: Config;
  raw?: Record<string, unknown>;
  configFile?: string;
  logger?: Logger;
  clock?: Clock;
}

export interface RunningSidecar {
  proxyUrl: string;
  adminUrl: string;
  runtime: Runtime;
  close(): Promise<void>;
}

/** Tracks open requests so shutdown can wait for them (bounded). */
function trackInFlight(server: Server) {
  let inFlight = 0;
  let served = 0; // requests taken since start (the shutdown log line says it: which worker served how many)
  let waiters: Array<() => void> = [];
  // One listener function for every response ('close' is emitted once per response): no closure
  // or once-wrapper per request.
  const onClose = () => {
    inFlight--;
    if (inFlight === 0) {
      for (const w of waiters) w();
      waiters = [];
    }
  };
  const track = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight++;
    served++;
    res.on('close', onClose);
  };
  server.on('request', track);
  server.on('checkContinue', track);
  return {
    count: () => inFlight,
    served: () => served,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
  };
}

/** A JSON refusal written straight to a socket, for requests that never became a Koa request. */
function refuseOnSocket(socket: Socket, code: 'header_too_large' | 'bad_request' | 'method_not_allowed', reason: string, extra = ''): void {
  // The head was never (fully) parsed, so no client X-Request-Id can be kept: every answer still gets one.
  const requestId = randomUUID();
  const body = JSON.stringify(proxyErrorBody(code, catalogue[code].message, requestId));
  socket.end(
    `HTTP/1.1 ${catalogue[code].status} ${reason}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
      `${extra}Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Malformed requests (a bad chunk size, TE with CL, an HTTP/2 preface) and oversize heads get a JSON
 * answer instead of a bare socket close. As node's own handler does (_http_server.js socketOnError),
 * the socket is only cut without an answer when bytes of a response were already written on it: a
 * request whose head parsed but whose body did not still has an unanswered response object.
 */
function onClientError(err: NodeJS.ErrnoException, socket: Socket) {
  const inFlight = (socket as unknown as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') refuseOnSocket(socket, 'header_too_large', 'Request Header Fields Too Large');
  else refuseOnSocket(socket, 'bad_request', 'Bad Request');
}

/** An Expect other than 100-continue (RFC 9110 §10.1.1: 417), as JSON; node's own answer has no body. */
function onCheckExpectation(_req: http.IncomingMessage, res: http.ServerResponse) {
  const requestId = randomUUID();
  const body = JSON.stringify(proxyErrorBody('expectation_failed', catalogue.expectation_failed.message, requestId));
  res.shouldKeepAlive = false;
  res.writeHead(catalogue.expectation_failed.status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'X-Request-Id': requestId,
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

/** CONNECT asks for a tunnel: the sidecar is not a forward proxy (node would otherwise close the socket silently). */
function onConnect(_req: http.IncomingMessage, socket: Socket) {
  refuseOnSocket(socket, 'method_not_allowed', 'Method Not Allowed', 'Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n');
}

/**
 * One listener: plain HTTP/1.1, or HTTPS when `tls` is given (server.tls / admin.tls). node:https is
 * node:http over TLS, so both get the same HTTP options (header limits, timeouts) and the same
 * handlers for malformed requests, CONNECT and unknown expectations.
 */
function createListener(httpOptions: http.ServerOptions, tls: ListenerTls | undefined, watched = true): Server {
  let server: Server;
  if (tls) {
    const secure = https.createServer({ ...httpOptions, ...tls.serverOptions() });
    if (watched) tls.attach(secure); // the certificate is swapped in place when its files change
    server = secure;
  } else server = http.createServer(httpOptions);
  server.on('clientError', onClientError);
  server.on('connect', onConnect);
  server.on('checkExpectation', onCheckExpectation);
  return server;
}

/** `exclusive`: in a cluster worker, a port of this worker's own instead of one shared through the primary. */
function listen(server: Server, port: number, host: string, exclusive = false): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive }, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

const urlOf = (a: AddressInfo, tls?: ListenerTls) => `${tls ? 'https' : 'http'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address}:${a.port}`;

export async function startSidecar(opts: StartOptions): Promise<RunningSidecar> {
  const config = opts.config;
  const logger = opts.logger ?? createLogger(config.log.level);
  const clock = opts.clock ?? systemClock;
  const { stores, db, migrations, where } = await openStores(config, { logger });
  const role = workerRole();
  if (role) adaptWorkerStores(stores, role); // server.workers > 1: background jobs in worker 0 only; every worker appends to the one audit chain (http/cluster-worker.ts)
  if (migrations?.applied.length) logger.info({ applied: migrations.applied, store: stores.kind }, 'migrations applied');
  logger.info({ store: stores.kind, where, replica: stores.audit.replica }, 'store open');

  let policy: Policy = compilePolicy(config);
  let raw: Record<string, unknown> = opts.raw ?? {};
  const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: config.upstream.maxSockets, keepAliveMsecs: 1000, scheduling: 'lifo' });
  const deps: Deps = {
    getPolicy: () => policy,
    clock,
    logger,
    metrics: createMetrics(),
    auditSink: new NullAuditSink(),
    upstreamAgent,
    services: {},
  };
  const rt: Runtime = {
    deps,
    db,
    stores,
    configFile: opts.configFile,
    applyConfig(next, nextRaw) {
      const p = compilePolicy(next);
      policy = p;
      if (nextRaw) raw = nextRaw;
      for (const f of rt.onReload) f(p);
      logger.info({ version: p.version }, 'configuration applied');
      return p;
    },
    rawConfig: () => raw,
    readiness: [],
    proxyRoutes: [],
    onClose: [],
    beforeReady: [],
    onReload: [],
  };
  await buildServices(rt);
  // The listeners are bound from the configuration in force after buildServices, not from opts.config:
  // without a config file, setupAdmin has just replayed the admin's stored changes (SIDECAR_* env still
  // winning), and server.* settings saved in the admin UI must take effect at this start.
  const listenerConfig = deps.getPolicy().config.server;
  // TLS settings are read at start like the rest of the listeners'; only the files' contents reload (http/tls.ts).
  const adminTlsConfig = deps.getPolicy().config.admin.tls;
  let proxyTls: ListenerTls | undefined;
  let adminTls: ListenerTls | undefined;
  try {
    proxyTls = listenerConfig.tls && new ListenerTls('proxy', listenerConfig.tls, logger, deps.metrics.registry);
    adminTls = adminTlsConfig && new ListenerTls('admin', adminTlsConfig, logger, deps.metrics.registry);
  } catch (e) {
    proxyTls?.close();
    await stores.close();
    throw e;
  }
  const tlsListeners = [proxyTls, adminTls].filter((t): t is ListenerTls => t !== undefined);
  if (tlsListeners.length) rt.readiness.push(tlsReadiness(tlsListeners));

  const handle = createProxyApp(deps, rt.proxyRoutes);
  const proxyListener = (watched = true) => {
    const server = createListener({ maxHeaderSize: listenerConfig.maxHeaderBytes, keepAliveTimeout: 65_000, requestTimeout: 0 }, proxyTls, watched);
    // No silent cap on the header count: the request-id stage refuses more than server.maxHeaderCount.
    server.maxHeadersCount = 0;
    server.on('request', handle);
    // Expect: 100-continue is judged first: a refusal is the final answer and invites no body; the
    // forward stage sends 100 Continue once the request may go to Jira (RFC 9110 §10.1.1).
    server.on('checkContinue', handle);
    return server;
  };
  const proxyServer = proxyListener();
  const proxyTrack = trackInFlight(proxyServer);

  const adminServer = createListener({ maxHeaderSize: 65536 }, adminTls);
  adminServer.on('request', createAdminApp(rt).callback());

  let proxyAddr: AddressInfo;
  let adminAddr: AddressInfo;
  try {
    proxyAddr = await listen(proxyServer, listenerConfig.port, listenerConfig.host);
    adminAddr = await listen(adminServer, listenerConfig.adminPort, listenerConfig.adminHost);
  } catch (e) {
    if ((['host', 'port', 'adminHost', 'adminPort'] as const).some((k) => listenerConfig[k] !== config.server[k]))
      logger.error(
        { host: listenerConfig.host, port: listenerConfig.port, adminHost: listenerConfig.adminHost, adminPort: listenerConfig.adminPort },
        'listener settings saved in the admin UI could not be bound; override them with SIDECAR_HOST / SIDECAR_PORT / SIDECAR_ADMIN_HOST / SIDECAR_ADMIN_PORT or clear them with `jira-auth-sidecar admin reset-config`',
      );
    proxyServer.close();
    for (const t of tlsListeners) t.close();
    await stores.close();
    throw e;
  }
  const proxyUrl = urlOf(proxyAddr, proxyTls);
  const adminUrl = urlOf(adminAddr, adminTls);
  logger.info(
    { proxy: proxyUrl, admin: adminUrl, upstream: config.upstream.url, ...(tlsListeners.length ? { tls: Object.fromEntries(tlsListeners.map((t) => [t.listener, t.describe()])) } : {}) },
    'sidecar listening',
  );
  // Rolling restarts: /readyz stays 503 until the hot path is compiled (http/warm-up.ts).
  let warm = false;
  rt.readiness.push({ name: 'warm-up', check: () => (warm ? { ok: true } : { ok: false, detail: 'warming up the request path' }) });
  // Over TLS the warm-up trusts exactly the certificate its own listener serves; a listener that
  // requires client certificates cannot be warmed up by a client without one.
  const warmupRequests = proxyTls?.config.requestClientCert ? 0 : listenerConfig.warmupRequests;
  if (warmupRequests < listenerConfig.warmupRequests) logger.info('warm-up skipped: the proxy listener requires client certificates (server.tls.requestClientCert)');
  // In a cluster worker the proxy port is shared through the primary: a warm-up request sent to it
  // could be answered by another worker, which knows neither this worker's marker nor its throw-away
  // key and would take it for real traffic (audit it, forward it to Jira). A worker therefore warms
  // up through a listener of its own (exclusive, loopback, same handler and TLS), closed after.
  const warmupServer = role && warmupRequests > 0 ? proxyListener(false) : undefined;
  const warmupUrl = warmupServer ? urlOf(await listen(warmupServer, 0, '127.0.0.1', true), proxyTls) : proxyUrl;
  void warmUp(warmupUrl, deps, warmupRequests, proxyTls ? { servedFingerprint: proxyTls.fingerprint256.bind(proxyTls) } : {})
    .then((r) => r.sent && logger.info(r, 'warm-up done'))
    .catch((e: unknown) => logger.warn({ err: e }, 'warm-up failed; serving without it'))
    .then(async () => {
      for (const f of rt.beforeReady) await f().catch((e: unknown) => logger.warn({ err: e }, 'a start-up step before ready failed; serving without it'));
    })
    .finally(() => {
      warm = true;
      warmupServer?.close();
      warmupServer?.closeAllConnections();
    });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info({ inFlight: proxyTrack.count(), served: proxyTrack.served() }, 'shutting down');
      for (const t of tlsListeners) t.close();
      const stopped = Promise.all([new Promise((r) => proxyServer.close(r)), new Promise((r) => adminServer.close(r))]);
      proxyServer.closeIdleConnections();
      adminServer.closeIdleConnections();
      const grace = listenerConfig.shutdownGraceMs;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        proxyTrack.idle().then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), grace))),
      ]);
      clearTimeout(timer);
      if (timedOut) logger.warn({ inFlight: proxyTrack.count(), graceMs: grace }, 'shutdown grace elapsed; closing remaining connections');
      proxyServer.closeAllConnections();
      adminServer.closeAllConnections();
      await stopped;
      for (const f of rt.onClose) {
        try {
          await f();
        } catch (e) {
          logger.error({ err: e }, 'error during shutdown');
        }
      }
      await deps.auditSink.close();
      upstreamAgent.destroy();
      await stores.close();
      logger.info('stopped');
    })());

  return { proxyUrl, adminUrl, runtime: rt, close };
}
