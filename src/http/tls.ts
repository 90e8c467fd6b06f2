// TLS at run time (issue 21): the listeners' certificates (server.tls, admin.tls), re-read when their
// files change, and the file watching the upstream client certificate shares.
//
// cert-manager (a Kubernetes Secret volume) does not rewrite the files: it writes a new directory and
// swaps the `..data` symlink the file names point through. So both the files and their directory are
// watched, events are debounced (a certificate and its key arrive together), the new pair is read and
// checked with tls.createSecureContext (config/tls-files.ts) and only then swapped in with
// server.setSecureContext: open connections keep the context they shook hands with, new ones get the
// new certificate, nothing is dropped. A pair that does not load is logged and the old one kept.
// A slow poll backs fs.watch up where it sees nothing (network file systems).
import { watch, type FSWatcher } from 'node:fs';
import type https from 'node:https';
import path from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { describeCertificate, readTlsFiles, sameMaterial, type TlsFiles, type TlsMaterial, type TlsRead } from '../config/tls-files.js';
import type { Logger } from '../log.js';
import type { ReadinessCheck } from './runtime.js';

export type ListenerTlsConfig = NonNullable<Config['server']['tls']>;
/** Which certificate: a listener's, or the client certificate presented to Jira. */
export type TlsUse = 'proxy' | 'admin' | 'upstream';

/** How long after the last file event the files are read (cert-manager writes the pair at once). */
export const TLS_DEBOUNCE_MS = 300;
/** The poll that catches changes fs.watch did not report. */
export const TLS_POLL_MS = 30_000;

export interface TlsMetrics {
  expiry: Gauge<'listener'>;
  reloads: Counter<'listener' | 'result'>;
}

const metricsByRegistry = new WeakMap<Registry, TlsMetrics>();

/** The TLS metrics of one registry (created once: both listeners and the upstream pool share them). */
export function tlsMetrics(registry: Registry): TlsMetrics {
  let m = metricsByRegistry.get(registry);
  if (!m) {
    m = {
      expiry: new Gauge({
        name: 'sidecar_tls_certificate_expiry_seconds',
        help: 'notAfter (Unix seconds) of the certificate each TLS listener serves (proxy, admin) and of the client certificate presented to Jira (upstream)',
        labelNames: ['listener'],
        registers: [registry],
      }),
      reloads: new Counter({
        name: 'sidecar_tls_reloads_total',
        help: 'Certificate files re-read after they changed, by listener (proxy, admin, upstream) and result: ok (swapped in) or invalid (the old certificate is kept)',
        labelNames: ['listener', 'result'],
        registers: [registry],
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

/**
 * Calls onChange (debounced) when any of `files` changes, is replaced, or a symlink in their
 * directory is swapped; and every pollMs in any case. onChange must be cheap when nothing changed.
 */
export class FileWatch {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly files: string[],
    private readonly onChange: () => void,
    private readonly o: { debounceMs?: number; pollMs?: number } = {},
  ) {
    this.arm();
    const pollMs = o.pollMs ?? TLS_POLL_MS;
    if (pollMs > 0) this.poll = setInterval(() => this.onChange(), pollMs).unref();
  }

  /** (Re)creates the watchers: a file watch follows the inode it found, which a swap replaces. */
  private arm(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    const names = new Set(this.files.map((f) => path.basename(f)));
    for (const dir of new Set(this.files.map((f) => path.dirname(path.resolve(f))))) {
      // In the directory: the files themselves, and Kubernetes' atomic-writer entries (..data, ..2024_…).
      this.add(dir, (name) => !name || names.has(name) || name.startsWith('..'));
    }
    for (const f of this.files) this.add(f, () => true);
  }

  private add(target: string, relevant: (name: string | undefined) => boolean): void {
    try {
      const w = watch(target, { persistent: false }, (_event, name) => {
        if (relevant(name === null ? undefined : String(name))) this.schedule();
      });
      // A watched file that disappears mid-swap: look again once things settle.
      w.on('error', () => this.schedule());
      this.watchers.push(w);
    } catch {
      /* missing right now (mid-swap): armed again after the next event, and the poll reads it anyway */
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.closed) return;
      this.arm();
      this.onChange();
    }, this.o.debounceMs ?? TLS_DEBOUNCE_MS);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.poll);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}

const filesOf = (c: { certFile?: string; keyFile?: string; caFile?: string; minVersion?: 'TLSv1.2' | 'TLSv1.3' }): TlsFiles => ({
  certFile: c.certFile,
  keyFile: c.keyFile,
  caFile: c.caFile,
  minVersion: c.minVersion,
});

const problems = (r: Extract<TlsRead, { ok: false }>, at: string) => r.issues.map((i) => `${at}.${i.field}: ${i.message}`).join('; ');

/**
 * The certificate of one TLS listener: its server options, the swap when the files change, the
 * expiry gauge, and what /readyz says about it.
 */
export class ListenerTls {
  private material: TlsMaterial;
  private server: https.Server | undefined;
  private watcher: FileWatch | undefined;
  /** The last refused reload's problems: logged once, not on every poll. */
  private refused: string | undefined;
  private readonly at: string;
  private readonly metrics: TlsMetrics;

  constructor(
    readonly listener: 'proxy' | 'admin',
    readonly config: ListenerTlsConfig,
    private readonly logger: Logger,
    registry: Registry,
    private readonly watchOptions: { debounceMs?: number; pollMs?: number } = {},
  ) {
    this.at = listener === 'proxy' ? 'server.tls' : 'admin.tls';
    this.metrics = tlsMetrics(registry);
    const r = readTlsFiles(filesOf(config));
    if (!r.ok) throw new Error(`the ${listener} listener's certificate cannot be loaded: ${problems(r, this.at)}`);
    this.material = r.material;
    this.served();
  }

  private contextOptions(m: TlsMaterial): SecureContextOptions {
    return { cert: m.cert, key: m.key, ca: m.ca, minVersion: this.config.minVersion };
  }

  /** Options for https.createServer (with the listener's HTTP options). */
  serverOptions(): https.ServerOptions {
    return {
      ...this.contextOptions(this.material),
      // Mutual TLS: a client certificate chaining to caFile is required in the handshake.
      requestCert: this.config.requestClientCert,
      rejectUnauthorized: true,
    };
  }

  /** Starts following the files for `server` (created with serverOptions()). */
  attach(server: https.Server): void {
    this.server = server;
    // A handshake that fails (an old protocol version, no client certificate, a scanner) never
    // becomes a request: node closes the socket; a debug line says why.
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      this.logger.debug({ listener: this.listener, tlsError: err.code ?? err.message, remote: socket.remoteAddress }, 'TLS handshake refused');
    });
    const files = [this.config.certFile, this.config.keyFile, ...(this.config.caFile ? [this.config.caFile] : [])];
    this.watcher = new FileWatch(files, () => this.reload(), this.watchOptions);
  }

  /** Re-reads the files; a new valid pair is swapped in, a broken one is logged and the served one kept. */
  reload(): 'ok' | 'unchanged' | 'invalid' {
    const r = readTlsFiles(filesOf(this.config));
    if (!r.ok) return this.refuse(problems(r, this.at));
    if (sameMaterial(this.material, r.material)) {
      this.refused = undefined;
      return 'unchanged';
    }
    try {
      this.server?.setSecureContext(this.contextOptions(r.material));
    } catch (e) {
      return this.refuse(`${this.at}: not usable for TLS (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const previous = this.material.leaf;
    this.material = r.material;
    this.refused = undefined;
    this.metrics.reloads.inc({ listener: this.listener, result: 'ok' });
    this.logger.info(
      { listener: this.listener, certificate: r.material.leaf && describeCertificate(r.material.leaf), previous: previous && describeCertificate(previous) },
      'TLS certificate reloaded: new connections get the new certificate',
    );
    this.served();
    return 'ok';
  }

  private refuse(problem: string): 'invalid' {
    if (this.refused !== problem) {
      this.refused = problem;
      this.metrics.reloads.inc({ listener: this.listener, result: 'invalid' });
      this.logger.error({ listener: this.listener, problem, serving: this.describe() }, 'new TLS certificate files not loaded; the current certificate is still served');
    }
    return 'invalid';
  }

  /** Metrics and a warning for the certificate now served. */
  private served(): void {
    const leaf = this.material.leaf;
    if (!leaf) return;
    const notAfter = Date.parse(leaf.validTo);
    this.metrics.expiry.set({ listener: this.listener }, Math.floor(notAfter / 1000));
    if (notAfter <= Date.now()) this.logger.warn({ listener: this.listener, certificate: describeCertificate(leaf) }, 'the TLS certificate served has expired');
  }

  /** The certificate served now (for /readyz and logs). */
  describe(): string {
    return this.material.leaf ? describeCertificate(this.material.leaf) : 'no certificate';
  }

  /** SHA-256 fingerprint of the certificate served now. */
  fingerprint256(): string | undefined {
    return this.material.leaf?.fingerprint256;
  }

  close(): void {
    this.watcher?.close();
  }
}

/** /readyz detail: which certificate each TLS listener serves (always ready: informational). */
export function tlsReadiness(listeners: ListenerTls[]): ReadinessCheck {
  return { name: 'tls', check: () => ({ ok: true, detail: listeners.map((l) => `${l.listener}: ${l.describe()}`).join('; ') }) };
}
