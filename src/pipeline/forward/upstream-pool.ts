// The keep-alive connection pool to Jira: undici's Pool. On the proxy path it costs about half the
// CPU per request of node:http's Agent + http.request (test/bench: ~45 vs ~80 µs for a bare
// passthrough on the benchmark machine), which is most of the sidecar's forwarding cost.
// One pool per (origin, maxSockets, connectTimeoutMs, upstream.tls and the contents of its files):
// a reload that changes them, or new certificate files on disk, gets a new pool, and the old one
// finishes what it carries and closes.
//
// TLS to an https:// Jira (upstream.tls): a private CA (caFile, instead of the system CAs), a client
// certificate (mutual TLS), the name Jira's certificate is checked against (servername), minVersion.
// The chain and the host name are always verified: nothing here can switch that off.
import type { TLSSocket } from 'node:tls';
import type { Registry } from 'prom-client';
import { buildConnector, Pool } from 'undici';
import type { Config } from '../../config/schema.js';
import type { Policy } from '../../config/policy.js';
import { describeCertificate, readTlsFiles, sameMaterial, type TlsRead } from '../../config/tls-files.js';
import type { Runtime } from '../../http/runtime.js';
import { FileWatch, tlsMetrics, type TlsMetrics } from '../../http/tls.js';
import type { Logger } from '../../log.js';

type Upstream = Config['upstream'];
type UpstreamTls = NonNullable<Upstream['tls']>;

/** Certificate verification failures (node/OpenSSL verify codes) and TLS protocol errors. */
const TLS_ERROR = /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|ERR_UPSTREAM_TLS_FILES$|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|INVALID_CA$|PATH_LENGTH_EXCEEDED$|INVALID_PURPOSE$|HOSTNAME_MISMATCH$)/;

export interface TlsFailure {
  code: string;
  /** OpenSSL's reason ("tlsv13 alert certificate required"), or node's message; never a secret. */
  reason: string;
}

function tlsFailureOf(err: Error): TlsFailure | undefined {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (!TLS_ERROR.test(code)) return undefined;
  const msg = err.message.split('\n')[0] ?? '';
  return { code, reason: /SSL routines:[^:]*:([^:]+)/.exec(msg)?.[1] ?? msg };
}

export class UpstreamPools {
  private key = '';
  private pool: Pool | undefined;
  private forPolicy: Policy | undefined;
  /** upstream.tls's files as last read, for the upstream.tls they were read for. */
  private tls: { config: string; read: TlsRead; watch?: FileWatch } | undefined;
  /** Bumped when upstream.tls's files changed on disk and loaded: the next request gets a new pool. */
  private generation = 0;
  /**
   * TLS failures undici reports only as a closed socket (a TLS 1.3 alert that arrives after the
   * client finished its handshake, e.g. Jira requiring a client certificate), by local port.
   */
  private readonly failedSockets = new Map<number, TlsFailure>();
  private readonly metrics: TlsMetrics | undefined;

  constructor(private readonly o: { logger?: Logger; registry?: Registry; watch?: boolean } = {}) {
    this.metrics = o.registry && tlsMetrics(o.registry);
  }

  /** The pool for this policy's upstream (one comparison per request while the policy is unchanged). */
  get(policy: Policy): Pool {
    if (policy === this.forPolicy && this.pool) return this.pool;
    const up = policy.config.upstream;
    const origin = new URL(up.url).origin;
    const secure = origin.startsWith('https:');
    const tlsKey = secure ? this.prepare(up) : '';
    const key = `${origin} ${up.maxSockets} ${up.connectTimeoutMs} ${tlsKey} ${this.generation}`;
    if (key !== this.key || !this.pool) {
      const old = this.pool;
      this.pool = new Pool(origin, {
        connections: up.maxSockets,
        connect: secure ? this.connector(up) : { timeout: up.connectTimeoutMs },
        // Our own timer answers 504 after upstream.timeoutMs; a stream (SSE) may idle between events
        // for as long as Jira likes, as it could through node:http.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.key = key;
      if (old) void old.close().catch(() => {});
    }
    this.forPolicy = policy;
    return this.pool;
  }

  /**
   * Reads upstream.tls's files once per upstream.tls (and again when they change on disk: watched
   * while they are in use). Returns the key part that changes with them. Start and every reload call
   * it, so a missing file is logged and the client certificate's expiry is known before the first request.
   */
  prepare(up: Upstream): string {
    const tls = up.tls;
    const config = tls && /^https:/i.test(up.url) ? JSON.stringify(tls) : '';
    if (this.tls?.config === config) return config;
    this.tls?.watch?.close();
    this.tls = undefined;
    if (!tls || config === '') return config;
    const read = readTlsFiles(tls);
    this.tls = { config, read };
    if (!read.ok) this.o.logger?.error({ problems: read.issues.map((i) => `upstream.tls.${i.field}: ${i.message}`) }, 'upstream.tls files cannot be loaded; requests to Jira fail until they can');
    this.served(read);
    const files = [tls.certFile, tls.keyFile, tls.caFile].filter((f): f is string => f !== undefined);
    if (files.length && this.o.watch !== false) this.tls.watch = new FileWatch(files, () => this.reread(tls, config));
    return config;
  }

  /** The files changed on disk: a new valid set takes effect on new connections (a new pool); a broken one is logged and the old one kept. */
  private reread(tls: UpstreamTls, config: string): void {
    const cur = this.tls;
    if (cur?.config !== config) return;
    const read = readTlsFiles(tls);
    if (!read.ok) {
      if (cur.read.ok) {
        this.metrics?.reloads.inc({ listener: 'upstream', result: 'invalid' });
        this.o.logger?.error({ problems: read.issues.map((i) => `upstream.tls.${i.field}: ${i.message}`) }, 'new upstream.tls files not loaded; connections to Jira keep the current ones');
      }
      return;
    }
    if (cur.read.ok && sameMaterial(cur.read.material, read.material)) return;
    cur.read = read;
    this.generation++;
    this.forPolicy = undefined; // the next request builds the pool with the new files
    this.metrics?.reloads.inc({ listener: 'upstream', result: 'ok' });
    this.o.logger?.info({ clientCertificate: read.material.leaf && describeCertificate(read.material.leaf) }, 'upstream.tls files reloaded: new connections to Jira use them');
    this.served(read);
  }

  private served(read: TlsRead): void {
    const leaf = read.ok ? read.material.leaf : undefined;
    if (leaf) this.metrics?.expiry.set({ listener: 'upstream' }, Math.floor(Date.parse(leaf.validTo) / 1000));
  }

  /** How connections to an https:// Jira are made: verified always, with upstream.tls's files. */
  private connector(up: Upstream): buildConnector.connector {
    const read = this.tls?.read;
    if (read && !read.ok) {
      const problem = read.issues.map((i) => `upstream.tls.${i.field}: ${i.message}`).join('; ');
      return (_opts, cb) => cb(Object.assign(new Error(problem), { code: 'ERR_UPSTREAM_TLS_FILES' }), null);
    }
    const m = read?.ok ? read.material : {};
    const connect = buildConnector({
      timeout: up.connectTimeoutMs,
      ca: m.ca,
      cert: m.cert,
      key: m.key,
      servername: up.tls?.servername,
      minVersion: up.tls?.minVersion,
      // node's default, stated: Jira's chain and host name are verified, and no setting changes it.
      rejectUnauthorized: true,
    });
    return (opts, cb) =>
      connect(opts, (err, socket) => {
        if (err || !socket) return cb(err ?? new Error('no socket'), null);
        const port = (socket as TLSSocket).localPort;
        socket.on('error', (e: Error) => {
          const failure = tlsFailureOf(e);
          if (!failure || port === undefined) return;
          this.failedSockets.set(port, failure);
          setTimeout(() => this.failedSockets.delete(port), 10_000).unref();
        });
        cb(null, socket);
      });
  }

  /** The TLS failure behind a request's error: its own code, or the one its socket closed with. */
  tlsFailure(err: Error): TlsFailure | undefined {
    const direct = tlsFailureOf(err);
    if (direct) return direct;
    const port = (err as { socket?: { localPort?: number } }).socket?.localPort;
    return port === undefined ? undefined : this.failedSockets.get(port);
  }

  /** Shutdown (after the listeners closed every client connection): nothing is left to wait for. */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    this.forPolicy = undefined;
    this.tls?.watch?.close();
    this.tls = undefined;
    if (p) await p.destroy().catch(() => {});
  }
}

declare module '../deps.js' {
  interface Services {
    /** Connection pools to Jira (forward stage). */
    upstreamPools?: UpstreamPools;
  }
}

/** Registers the pools, reads upstream.tls at start and on every reload, and closes them after the listeners at shutdown. */
export function installUpstreamPools(rt: Runtime): void {
  const pools = new UpstreamPools({ logger: rt.deps.logger, registry: rt.deps.metrics.registry });
  rt.deps.services.upstreamPools = pools;
  pools.prepare(rt.deps.getPolicy().config.upstream);
  rt.onReload.push((p) => pools.prepare(p.config.upstream));
  rt.onClose.push(() => pools.close());
}
