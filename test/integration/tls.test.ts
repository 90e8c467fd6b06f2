// Issue 21, TLS: HTTPS listeners (server.tls, admin.tls) with certificates re-read when their files
// change, and TLS to Jira (upstream.tls). Real TLS throughout, with a private CA and certificates
// made by openssl for this run (test/helpers/tls.ts).
import https from 'node:https';
import tls from 'node:tls';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildConnector, Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { ADMIN_PASSWORD } from '../helpers/admin.js';
import { until } from '../helpers/http.js';
import { baseConfig, merge, tempDir } from '../helpers/sidecar.js';
import { makeCa, type Issued, type TestCa } from '../helpers/tls.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

interface Started extends RunningSidecar {
  logs: string[];
  /** Parsed log lines with this msg. */
  logged(msg: string): Array<Record<string, any>>;
}

const running: Started[] = [];
/** Temporary directories (certificates, volumes) removed after the run. */
const dirs: string[] = [];

/** A sidecar whose log lines are kept (info and up), from the test base config plus overrides. */
async function start(upstreamUrl: string, overrides: unknown): Promise<Started> {
  const dataDir = tempDir();
  const v = validate(merge(baseConfig(upstreamUrl, dataDir), overrides));
  if (!v.ok) throw new Error(`test config invalid: ${JSON.stringify(v.issues)}`);
  const logs: string[] = [];
  const s = await startSidecar({ config: v.config, logger: createLogger('info', { write: (line: string) => void logs.push(line) }) });
  const started: Started = {
    ...s,
    logs,
    logged: (msg) => logs.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg === msg),
    close: async () => {
      await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  running.push(started);
  return started;
}

interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
}

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
  /** The certificate the server presented on this (new) connection. */
  fingerprint256: string;
  protocol: string | null;
}

/** One request on a new TLS connection (no agent), with the peer certificate it saw. */
function request(baseUrl: string, p: string, o: ClientTls & { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: u.hostname, port: u.port, path: p, method: o.method ?? 'GET', headers: o.headers, agent: false, ca: o.ca, cert: o.cert, key: o.key, minVersion: o.minVersion, maxVersion: o.maxVersion, ciphers: o.ciphers });
    req.on('error', reject);
    req.on('response', (res) => {
      const sock = res.socket as tls.TLSSocket;
      const fingerprint256 = sock.getPeerCertificate().fingerprint256;
      const protocol = sock.getProtocol();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, fingerprint256, protocol }));
    });
    req.end(o.body);
  });
}

/** A TLS handshake only: the certificate and protocol, or the error that refused it. */
function handshake(baseUrl: string, o: ClientTls): Promise<{ fingerprint256: string; protocol: string | null }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), ...o });
    s.on('secureConnect', () => {
      const r = { fingerprint256: s.getPeerCertificate().fingerprint256, protocol: s.getProtocol() };
      s.end();
      resolve(r);
    });
    s.on('error', reject);
  });
}

/** Bytes written verbatim on a TLS connection; everything the server answers until it closes. */
function rawTls(baseUrl: string, bytes: string, o: ClientTls): Promise<string> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), ...o }, () => s.write(bytes));
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.on('error', (e) => (text ? resolve(text) : reject(e)));
    s.on('close', () => resolve(text));
  });
}

const errorCode = (p: Promise<unknown>) =>
  p.then(
    () => 'succeeded',
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );

/**
 * A certificate directory laid out as a Kubernetes Secret volume (cert-manager): tls.crt and tls.key
 * are symlinks through `..data`, which points at a versioned directory; an update writes a new
 * version and swaps `..data` atomically (rename), then removes the old version.
 */
function secretVolume(first: { cert: string; key: string }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'jas-secret-'));
  dirs.push(dir);
  let version = 0;
  let current: string | undefined;
  const put = (pair: { cert: string; key: string }) => {
    const v = `..2026_${++version}`;
    mkdirSync(path.join(dir, v));
    writeFileSync(path.join(dir, v, 'tls.crt'), pair.cert);
    writeFileSync(path.join(dir, v, 'tls.key'), pair.key);
    symlinkSync(v, path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    if (current) rmSync(path.join(dir, current), { recursive: true, force: true });
    current = v;
  };
  put(first);
  symlinkSync('..data/tls.crt', path.join(dir, 'tls.crt'));
  symlinkSync('..data/tls.key', path.join(dir, 'tls.key'));
  return { dir, certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), put };
}

/** Plain files, rewritten in place (a systemd host, a script). */
function plainFiles(first: Issued) {
  const dir = mkdtempSync(path.join(tmpdir(), 'jas-plain-'));
  dirs.push(dir);
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  writeFileSync(certFile, first.cert);
  writeFileSync(keyFile, first.key);
  return { dir, certFile, keyFile };
}

function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

let ca: TestCa; // issues the sidecar's listener certificates
let clientCa: TestCa; // issues client certificates (the admin listener's mutual TLS, the sidecar's client certificate to Jira)
let jiraCa: TestCa; // Jira's private CA
let proxyCert1: Issued;
let proxyCert2: Issued;
let adminCert1: Issued;
let adminCert2: Issued;
let adminClient: Issued;
let sidecarClient: Issued;

beforeAll(() => {
  ca = makeCa('sidecar');
  clientCa = makeCa('clients');
  jiraCa = makeCa('jira');
  proxyCert1 = ca.issue('proxy-1', { days: 2 });
  proxyCert2 = ca.issue('proxy-2', { days: 5 });
  adminCert1 = ca.issue('admin-1', { days: 2 });
  adminCert2 = ca.issue('admin-2', { days: 4 });
  adminClient = clientCa.issue('operator', { client: true });
  sidecarClient = clientCa.issue('sidecar-client', { client: true });
  dirs.push(...[ca, clientCa, jiraCa].map((c) => path.dirname(c.certFile)));
});

afterAll(async () => {
  for (const s of running) await s.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('HTTPS listeners', () => {
  let upstream: JiraUpstream;
  let sidecar: Started;
  let proxyFiles: ReturnType<typeof secretVolume>;
  let adminFiles: ReturnType<typeof plainFiles>;
  const admin = () => ({ ca: ca.cert, cert: adminClient.cert, key: adminClient.key });

  beforeAll(async () => {
    upstream = await startJiraUpstream();
    proxyFiles = secretVolume(proxyCert1);
    adminFiles = plainFiles(adminCert1);
    sidecar = await start(upstream.url, {
      server: { tls: { certFile: proxyFiles.certFile, keyFile: proxyFiles.keyFile }, warmupRequests: 30 },
      admin: { tls: { certFile: adminFiles.certFile, keyFile: adminFiles.keyFile, caFile: clientCa.certFile, minVersion: 'TLSv1.3', requestClientCert: true } },
    });
  });
  afterAll(async () => {
    await upstream?.close();
  });

  it('the proxy listener answers over HTTPS with the served certificate, and Jira learns the request came over https', async () => {
    expect(sidecar.proxyUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await request(sidecar.proxyUrl, '/rest/test/echo', { ca: ca.cert });
    expect(r.status).toBe(200);
    expect(r.fingerprint256).toBe(proxyCert1.fingerprint256);
    expect(r.protocol).toBe('TLSv1.3');
    expect(JSON.parse(r.body).headers['x-forwarded-proto']).toBe('https');
    expect(r.headers['x-request-id']).toBeTruthy();
  });

  it('the start-up warm-up ran over TLS against its own certificate', async () => {
    await until(() => sidecar.logged('warm-up done').length > 0, 'warm-up done');
    expect(sidecar.logged('warm-up done')[0]!.sent).toBe(30);
  });

  it('keeps every behaviour of the plain listener: 431 for a large head, 405 for CONNECT, 417 for an unknown expectation', async () => {
    const o = { ca: ca.cert };
    const big = await rawTls(sidecar.proxyUrl, `GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, o);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(big).toContain('"error":"header_too_large"');
    const connect = await rawTls(sidecar.proxyUrl, 'CONNECT jira.example:443 HTTP/1.1\r\nHost: jira.example:443\r\n\r\n', o);
    expect(connect).toMatch(/^HTTP\/1\.1 405 /);
    expect(connect).toContain('"error":"method_not_allowed"');
    const expect417 = await rawTls(sidecar.proxyUrl, 'GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nConnection: close\r\n\r\n', o);
    expect(expect417).toMatch(/^HTTP\/1\.1 417 /);
    const malformed = await rawTls(sidecar.proxyUrl, 'POST /rest/api/2/issue HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n', o);
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('the admin listener answers over HTTPS (mutual TLS) with its own certificate; /readyz names the certificates served', async () => {
    expect(sidecar.adminUrl).toMatch(/^https:/);
    const r = await request(sidecar.adminUrl, '/readyz', admin());
    expect(r.fingerprint256).toBe(adminCert1.fingerprint256);
    expect(r.status).toBe(200);
    const check = (JSON.parse(r.body) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks.find((c) => c.name === 'tls')!;
    expect(check.ok).toBe(true);
    expect(check.detail).toContain(`proxy: CN=proxy-1, sha256 ${proxyCert1.fingerprint256.slice(0, 23)}`);
    expect(check.detail).toContain('admin: CN=admin-1');
    // No client certificate: refused in the handshake.
    expect(await errorCode(request(sidecar.adminUrl, '/healthz', { ca: ca.cert }))).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/);
    // A certificate from another CA: refused too.
    const strangerCa = makeCa('stranger');
    dirs.push(path.dirname(strangerCa.certFile));
    const stranger = strangerCa.issue('intruder', { client: true });
    expect(await errorCode(request(sidecar.adminUrl, '/healthz', { ca: ca.cert, cert: stranger.cert, key: stranger.key }))).not.toBe('succeeded');
  });

  it('the certificates expiry is a metric per listener', async () => {
    const m = (await request(sidecar.adminUrl, '/metrics', admin())).body;
    expect(metric(m, 'sidecar_tls_certificate_expiry_seconds', 'listener="proxy"')).toBe(Math.floor(proxyCert1.notAfter.getTime() / 1000));
    expect(metric(m, 'sidecar_tls_certificate_expiry_seconds', 'listener="admin"')).toBe(Math.floor(adminCert1.notAfter.getTime() / 1000));
  });

  it('minVersion: TLS 1.1 is refused (default TLSv1.2), TLS 1.2 is refused where TLSv1.3 is set', async () => {
    // SECLEVEL=0 lets this client offer TLS 1.1 at all: the refusal is the server's (alert protocol_version).
    const old = { ca: ca.cert, minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.1' as const, ciphers: 'DEFAULT@SECLEVEL=0' };
    expect(await errorCode(handshake(sidecar.proxyUrl, old))).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect((await handshake(sidecar.proxyUrl, { ca: ca.cert, maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    expect(await errorCode(handshake(sidecar.adminUrl, { ...admin(), maxVersion: 'TLSv1.2' }))).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect((await handshake(sidecar.adminUrl, admin())).protocol).toBe('TLSv1.3');
  });

  it('a rotation of the files (Secret volume symlink swap) under 500+ keep-alive requests over 20 connections: none fails, no connection drops, new connections see the new certificate', async () => {
    let connections = 0;
    const connector = buildConnector({ ca: ca.cert });
    const pool = new Pool(sidecar.proxyUrl, {
      connections: 20,
      connect: (opts, cb) =>
        connector(opts, (err, socket) => {
          if (socket) connections++;
          cb(err as Error, socket as never);
        }),
    });
    let sent = 0;
    const failures: string[] = [];
    let rotated = false;
    let swapped = false;
    // Keep the connections busy until the new certificate is served to new connections, and at least 500 requests.
    const probe = (async () => {
      await until(() => rotated, 'rotation');
      await until(async () => (await handshake(sidecar.proxyUrl, { ca: ca.cert })).fingerprint256 === proxyCert2.fingerprint256, 'new certificate served');
      swapped = true;
    })();
    let stop = false; // the probe failed: the workers stop too, and the test reports why
    probe.catch(() => (stop = true));
    const worker = async () => {
      while (!stop && (sent < 500 || !swapped)) {
        const n = ++sent;
        if (n === 100) {
          proxyFiles.put(proxyCert2);
          rotated = true;
        }
        try {
          const r = await pool.request({ method: 'GET', path: '/rest/test/slow?ms=5' });
          await r.body.dump();
          if (r.statusCode !== 200) failures.push(`#${n}: ${r.statusCode}`);
        } catch (e) {
          failures.push(`#${n}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
    };
    await Promise.all([...Array.from({ length: 20 }, worker), probe]);
    await pool.close();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(500);
    expect(connections).toBeLessThanOrEqual(20); // every keep-alive connection lived through the swap
    const fresh = await request(sidecar.proxyUrl, '/rest/api/2/serverInfo', { ca: ca.cert });
    expect(fresh.status).toBe(200);
    expect(fresh.fingerprint256).toBe(proxyCert2.fingerprint256);
    const reloaded = sidecar.logged('TLS certificate reloaded: new connections get the new certificate');
    expect(reloaded.map((l) => l.listener)).toEqual(['proxy']);
    expect(reloaded[0]!.certificate).toContain('CN=proxy-2');
    expect(reloaded[0]!.previous).toContain('CN=proxy-1');
    const m = (await request(sidecar.adminUrl, '/metrics', admin())).body;
    expect(metric(m, 'sidecar_tls_certificate_expiry_seconds', 'listener="proxy"')).toBe(Math.floor(proxyCert2.notAfter.getTime() / 1000));
    expect(metric(m, 'sidecar_tls_reloads_total', 'listener="proxy",result="ok"')).toBe(1);
  });

  it('a broken new pair (key of another certificate) is logged and the old certificate kept; a good one after it is served', async () => {
    const other = ca.issue('proxy-3');
    proxyFiles.put({ cert: other.cert, key: proxyCert1.key });
    await until(() => sidecar.logged('new TLS certificate files not loaded; the current certificate is still served').length > 0, 'refusal logged');
    const refused = sidecar.logged('new TLS certificate files not loaded; the current certificate is still served')[0]!;
    expect(refused.listener).toBe('proxy');
    expect(refused.problem).toContain('server.tls.keyFile: does not belong to the certificate in certFile (CN=proxy-3)');
    expect(refused.level).toBe('error');
    const r = await request(sidecar.proxyUrl, '/rest/api/2/serverInfo', { ca: ca.cert });
    expect(r.status).toBe(200);
    expect(r.fingerprint256).toBe(proxyCert2.fingerprint256);
    const ready = await request(sidecar.adminUrl, '/readyz', admin());
    expect(ready.status).toBe(200);
    expect(metric((await request(sidecar.adminUrl, '/metrics', admin())).body, 'sidecar_tls_reloads_total', 'listener="proxy",result="invalid"')).toBe(1);
    // Repaired: the good pair is picked up.
    proxyFiles.put(other);
    await until(async () => (await handshake(sidecar.proxyUrl, { ca: ca.cert })).fingerprint256 === other.fingerprint256, 'repaired pair served');
  });

  it('plain files rewritten in place (the admin listener) reload too', async () => {
    writeFileSync(adminFiles.keyFile, adminCert2.key);
    writeFileSync(adminFiles.certFile, adminCert2.cert);
    await until(async () => (await handshake(sidecar.adminUrl, admin())).fingerprint256 === adminCert2.fingerprint256, 'new admin certificate served');
    const r = await request(sidecar.adminUrl, '/healthz', admin());
    expect(r.status).toBe(200);
    // The new certificate came with the listener's other settings: a client certificate is still required.
    expect(await errorCode(request(sidecar.adminUrl, '/healthz', { ca: ca.cert }))).not.toBe('succeeded');
  });

  it('listener TLS settings changed through the admin API need a restart (saved, named, not applied); the session cookie is Secure', async () => {
    const login = await request(sidecar.adminUrl, '/api/login', {
      ...admin(),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toContain('; Secure');
    const auth = { cookie: setCookie.split(';')[0]!, 'x-csrf-token': (JSON.parse(login.body) as { csrfToken: string }).csrfToken };
    const cur = JSON.parse((await request(sidecar.adminUrl, '/api/config', { ...admin(), headers: auth })).body) as { config: any };
    cur.config.server.tls.minVersion = 'TLSv1.3';
    cur.config.admin.tls.minVersion = 'TLSv1.2';
    const put = await request(sidecar.adminUrl, '/api/config', { ...admin(), method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(cur.config) });
    expect(put.status).toBe(200);
    expect((JSON.parse(put.body) as { restartRequired: string[] }).restartRequired.sort()).toEqual(['admin.tls.minVersion', 'server.tls.minVersion']);
    // The running listeners keep what they started with.
    expect((await handshake(sidecar.proxyUrl, { ca: ca.cert, maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    expect(await errorCode(handshake(sidecar.adminUrl, { ...admin(), maxVersion: 'TLSv1.2' }))).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });
});

describe('TLS to Jira (upstream.tls)', () => {
  let jira: JiraUpstream; // https, certificate from the private Jira CA
  let jiraMtls: JiraUpstream; // https, requires a client certificate from clientCa
  let jiraOther: JiraUpstream; // https, its certificate names only jira.other

  beforeAll(async () => {
    const cert = jiraCa.issue('jira');
    jira = await startJiraUpstream({ tls: { cert: cert.cert, key: cert.key } });
    jiraMtls = await startJiraUpstream({ tls: { cert: cert.cert, key: cert.key, ca: clientCa.cert } });
    const other = jiraCa.issue('jira-other', { san: 'DNS:jira.other' });
    jiraOther = await startJiraUpstream({ tls: { cert: other.cert, key: other.key } });
  });
  afterAll(async () => {
    await jira?.close();
    await jiraMtls?.close();
    await jiraOther?.close();
  });

  const get = async (s: Started, p = '/rest/api/2/serverInfo') => {
    const r = await fetch(`${s.proxyUrl}${p}`);
    return { status: r.status, body: (await r.json()) as Record<string, any> };
  };
  const tlsFailures = (s: Started) => s.logged('TLS connection to Jira failed');

  it('an https Jira with a private CA: trusted through upstream.tls.caFile', async () => {
    expect(jira.url).toMatch(/^https:/);
    const s = await start(jira.url, { upstream: { tls: { caFile: jiraCa.certFile } } });
    const r = await get(s);
    expect(r.status).toBe(200);
    expect(r.body.serverTitle).toBe('Demo Jira');
  });

  it('without the private CA (system CAs only): 502, the TLS error named in the log, Jira never got the request', async () => {
    const s = await start(jira.url, {});
    const before = jira.seen.length;
    const r = await get(s);
    expect(r.status).toBe(502);
    expect(r.body.error).toBe('upstream_unreachable');
    expect(jira.seen.length).toBe(before);
    const line = tlsFailures(s)[0]!;
    expect(line.tlsError).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(line.level).toBe('warn');
    expect(line.upstream).toBe(new URL(jira.url).origin);
    expect(line.requestId).toBe(r.body.requestId);
    expect(JSON.stringify(s.logs)).not.toContain('PRIVATE KEY');
    const m = await (await fetch(`${s.adminUrl}/metrics`)).text();
    expect(metric(m, 'sidecar_upstream_errors_total', 'kind="tls"')).toBe(1);
  });

  it('mutual TLS: Jira requiring a client certificate gets upstream.tls.certFile; without one it is 502 naming the TLS alert', async () => {
    const withCert = await start(jiraMtls.url, { upstream: { tls: { caFile: jiraCa.certFile, certFile: sidecarClient.certFile, keyFile: sidecarClient.keyFile } } });
    const ok = await get(withCert, '/rest/test/echo');
    expect(ok.status).toBe(200);
    const m = await (await fetch(`${withCert.adminUrl}/metrics`)).text();
    expect(metric(m, 'sidecar_tls_certificate_expiry_seconds', 'listener="upstream"')).toBe(Math.floor(sidecarClient.notAfter.getTime() / 1000));

    const without = await start(jiraMtls.url, { upstream: { tls: { caFile: jiraCa.certFile } } });
    const before = jiraMtls.seen.length;
    const r = await get(without, '/rest/test/echo');
    expect(r.status).toBe(502);
    expect(jiraMtls.seen.length).toBe(before);
    expect(tlsFailures(without).map((l) => l.tlsError)).toEqual(['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']);
  });

  it('a certificate for another host name is refused (502), and hostname checks cannot be switched off', async () => {
    const s = await start(jiraOther.url, { upstream: { tls: { caFile: jiraCa.certFile } } });
    const r = await get(s);
    expect(r.status).toBe(502);
    expect(tlsFailures(s)[0]!.tlsError).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    // The name the certificate carries, when Jira is reached at another address: checked, and accepted.
    const named = await start(jiraOther.url, { upstream: { tls: { caFile: jiraCa.certFile, servername: 'jira.other' } } });
    expect((await get(named)).status).toBe(200);
    // There is no switch: the strict schema refuses one, saying why.
    for (const key of ['rejectUnauthorized', 'checkServerIdentity']) {
      const v = validate({ upstream: { url: jiraOther.url, tls: { caFile: jiraCa.certFile, [key]: false } } });
      expect(v.ok).toBe(false);
      const issue = !v.ok && v.issues.find((i) => i.path === `upstream.tls.${key}`);
      expect(issue && issue.message).toMatch(/cannot be set: Jira's certificate chain and host name are always verified/);
    }
  });
});

describe('TLS configuration validation', () => {
  const issues = (input: unknown) => {
    const v = validate(input);
    return v.ok ? [] : v.issues.map((i) => `${i.path}: ${i.message}`);
  };

  it('files must exist, be readable and hold what their field says; the key must belong to the certificate', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jas-tls-v-'));
    const cert = ca.issue('v-1');
    const other = ca.issue('v-2');
    const missing = path.join(dir, 'missing.pem');
    expect(issues({ server: { tls: { certFile: missing, keyFile: cert.keyFile } } })).toEqual([`server.tls.certFile: file not found: ${missing}`]);
    expect(issues({ admin: { tls: { certFile: cert.certFile, keyFile: other.keyFile } } })).toEqual([
      `admin.tls.keyFile: does not belong to the certificate in certFile (CN=v-1): ${other.keyFile}`,
    ]);
    const notPem = path.join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(issues({ server: { tls: { certFile: notPem, keyFile: notPem } } })).toEqual([
      `server.tls.certFile: holds no PEM certificate (-----BEGIN CERTIFICATE-----): ${notPem}`,
      `server.tls.keyFile: holds no PEM private key (-----BEGIN PRIVATE KEY-----): ${notPem}`,
    ]);
    expect(issues({ server: { tls: { certFile: dir, keyFile: cert.keyFile } } })).toEqual([`server.tls.certFile: is a directory, not a PEM file: ${dir}`]);
    if (process.getuid?.() !== 0) {
      const locked = path.join(dir, 'locked.pem');
      writeFileSync(locked, cert.key, { mode: 0o000 });
      expect(issues({ server: { tls: { certFile: cert.certFile, keyFile: locked } } })).toEqual([`server.tls.keyFile: cannot be read (permission denied): ${locked}`]);
    }
    expect(issues({ server: { tls: { certFile: cert.certFile, keyFile: cert.keyFile } } })).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('names each missing or contradictory setting by its path', () => {
    const cert = ca.issue('v-3');
    expect(issues({ server: { tls: { keyFile: cert.keyFile } } })).toEqual([
      'server.tls.certFile: required: the path of the PEM certificate to serve (remove the tls block to serve plain HTTP)',
    ]);
    expect(issues({ admin: { tls: { certFile: cert.certFile, keyFile: cert.keyFile, requestClientCert: true } } })).toEqual([
      'admin.tls.caFile: required when requestClientCert is true: the CA bundle client certificates must chain to',
    ]);
    expect(issues({ server: { tls: { certFile: cert.certFile, keyFile: cert.keyFile, minVersion: 'TLSv1.1' } } })).toEqual([
      'server.tls.minVersion: must be "TLSv1.2" or "TLSv1.3" (older versions are never accepted)',
    ]);
    expect(issues({ upstream: { url: 'https://jira.example', tls: { certFile: cert.certFile } } })).toEqual([
      'upstream.tls.keyFile: set certFile and keyFile together (the client certificate and its key)',
    ]);
    expect(issues({ upstream: { url: 'http://jira.example', tls: { caFile: jiraCa.certFile } } })).toEqual([
      'upstream.tls: applies to an https:// Jira only: upstream.url is http:// (use https://, or remove upstream.tls)',
    ]);
    expect(issues({ upstream: { url: 'https://10.0.0.5', tls: { servername: '10.0.0.5' } } })[0]).toMatch(/^upstream\.tls\.servername: must be a DNS host name/);
    expect(issues({ server: { tls: { certFile: cert.certFile, keyFile: cert.keyFile, rejectUnauthorized: false } } })[0]).toMatch(/^server\.tls\.rejectUnauthorized: cannot be set/);
  });
});
