// Starts one sidecar: database, policy, the two listeners, graceful shutdown.
import http, { type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { compilePolicy, type Policy } from '../config/policy.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { openDb } from '../store/db.js';
import { createMetrics } from '../pipeline/metrics/metrics.js';
import { NullAuditSink } from '../pipeline/audit/sink.js';
import type { Deps } from '../pipeline/deps.js';
import { createProxyApp } from './proxy-app.js';
import { createAdminApp } from './admin-app.js';
import type { Runtime } from './runtime.js';
import { buildServices } from './services.js';
import { catalogue } from '../errors.js';

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
  server.on('request', (_req, res) => {
    inFlight++;
    res.on('close', onClose);
  });
  return {
    count: () => inFlight,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
  };
}

/** Malformed requests and oversize heads get a JSON answer instead of a bare socket close. */
function onClientError(err: NodeJS.ErrnoException, socket: Socket) {
  if (!socket.writable || (socket as unknown as { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : 'bad_request';
  // The head was never parsed, so no client X-Request-Id can be kept: every response still gets one.
  const requestId = randomUUID();
  const body = JSON.stringify({ error: code, message: catalogue[code].message, requestId });
  socket.end(
    `HTTP/1.1 ${catalogue[code].status} ${code === 'header_too_large' ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

const urlOf = (a: AddressInfo) => `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address}:${a.port}`;

export async function startSidecar(opts: StartOptions): Promise<RunningSidecar> {
  const config = opts.config;
  const logger = opts.logger ?? createLogger(config.log.level);
  const clock = opts.clock ?? systemClock;
  const { db, migrations } = openDb(config.server.dataDir);
  if (migrations?.applied.length) logger.info({ applied: migrations.applied }, 'migrations applied');

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
    onReload: [],
  };
  await buildServices(rt);
  // The listeners are bound from the configuration in force after buildServices, not from opts.config:
  // without a config file, setupAdmin has just replayed the admin's stored changes (SIDECAR_* env still
  // winning), and server.* settings saved in the admin UI must take effect at this start.
  const listenerConfig = deps.getPolicy().config.server;

  const proxyServer = http.createServer({ maxHeaderSize: listenerConfig.maxHeaderBytes, keepAliveTimeout: 65_000, requestTimeout: 0 });
  proxyServer.on('clientError', onClientError);
  const proxyApp = createProxyApp(deps, rt.proxyRoutes);
  proxyServer.on('request', proxyApp.callback());
  const proxyTrack = trackInFlight(proxyServer);

  const adminServer = http.createServer({ maxHeaderSize: 65536 });
  adminServer.on('clientError', onClientError);
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
    db.close();
    throw e;
  }
  logger.info({ proxy: urlOf(proxyAddr), admin: urlOf(adminAddr), upstream: config.upstream.url }, 'sidecar listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info({ inFlight: proxyTrack.count() }, 'shutting down');
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
      db.close();
      logger.info('stopped');
    })());

  return { proxyUrl: urlOf(proxyAddr), adminUrl: urlOf(adminAddr), runtime: rt, close };
}
