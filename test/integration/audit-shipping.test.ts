// Audit shipping (audit.shipping) to real receivers of this file's own: a TCP syslog receiver that
// parses RFC 6587 octet counting and RFC 5424, the same over TLS with a certificate from a CA the
// test makes (openssl), and an HTTP receiver per format (NDJSON, Splunk HEC, Elasticsearch _bulk)
// that refuses the first batches (503) before it accepts. The sidecars are the real startSidecar,
// restarted on the same data directory; the PostgreSQL case runs two replicas on one database.
// Every row must arrive at least once, in id order per replica, none missing, with the export's
// fields, and verify as a hash chain from the shipped copy alone.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { ENTRY_FIELDS } from '../../src/audit/query.js';
import { baseConfig, merge, startTestSidecar, tempDir, type TestSidecar } from '../helpers/sidecar.js';
import { rawRequest, until } from '../helpers/http.js';
import { freshDatabase } from '../helpers/postgres.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { makeCa } from '../helpers/tls.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

/** A row as shipped: the NDJSON export's object. */
type Entry = Record<string, string | number | null>;

let upstream: JiraUpstream;
const cleanup: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  upstream = await startJiraUpstream();
});
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  await upstream?.close();
});

// ---- receivers ----

interface SyslogMessage {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: Array<{ id: string; params: Record<string, string> }>;
  msg: string;
  bom: boolean;
}

/** RFC 5424 section 6, enough of it to check every part of what the sidecar writes. */
function parseRfc5424(s: string): SyslogMessage {
  const m = /^<(\d{1,3})>([1-9]\d{0,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(s);
  if (!m) throw new Error(`not RFC 5424: ${s.slice(0, 80)}`);
  let i = m[0].length;
  const sd: SyslogMessage['sd'] = [];
  if (s[i] === '-') i++;
  else {
    while (s[i] === '[') {
      i++;
      let id = '';
      while (s[i] !== ' ' && s[i] !== ']') id += s[i++];
      const params: Record<string, string> = {};
      while (s[i] === ' ') {
        i++;
        let name = '';
        while (s[i] !== '=') name += s[i++];
        if (s[++i] !== '"') throw new Error('PARAM-VALUE must be quoted');
        i++;
        let value = '';
        for (;;) {
          const c = s[i++];
          if (c === undefined) throw new Error('unterminated PARAM-VALUE');
          if (c === '\\' && (s[i] === '"' || s[i] === '\\' || s[i] === ']')) value += s[i++];
          else if (c === '"') break;
          else if (c === ']') throw new Error('unescaped ] in PARAM-VALUE');
          else value += c;
        }
        if (name.length < 1 || name.length > 32 || /[= \]"]/.test(name)) throw new Error(`bad PARAM-NAME ${name}`);
        params[name] = value;
      }
      if (s[i++] !== ']') throw new Error('SD-ELEMENT not closed');
      sd.push({ id, params });
    }
  }
  let msg = '';
  if (i < s.length) {
    if (s[i] !== ' ') throw new Error('no space before MSG');
    msg = s.slice(i + 1);
  }
  const bom = msg.startsWith('\uFEFF');
  return { pri: Number(m[1]), version: m[2]!, timestamp: m[3]!, hostname: m[4]!, appName: m[5]!, procId: m[6]!, msgId: m[7]!, sd, msg: bom ? msg.slice(1) : msg, bom };
}

interface SyslogReceiver {
  port: number;
  messages: SyslogMessage[];
  connections: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** A syslog receiver: RFC 6587 octet-counted frames over TCP, or over TLS with `tlsOptions`. */
async function syslogReceiver(tlsOptions?: tls.TlsOptions): Promise<SyslogReceiver> {
  const messages: SyslogMessage[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const onSocket = (sock: net.Socket) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = buf.subarray(0, sp).toString('ascii');
        if (!/^[1-9]\d{0,8}$/.test(len)) throw new Error(`bad octet count "${len}"`);
        const end = sp + 1 + Number(len);
        if (buf.length < end) break;
        messages.push(parseRfc5424(buf.subarray(sp + 1, end).toString('utf8')));
        buf = buf.subarray(end);
      }
    });
  };
  const server: net.Server = tlsOptions ? tls.createServer(tlsOptions, onSocket) : net.createServer(onSocket);
  const listen = (port: number) => new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const down = async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    port,
    messages,
    get connections() {
      return connections;
    },
    down,
    up: () => listen(port),
    close: () => (server.listening ? down() : undefined) ?? Promise.resolve(),
  };
}

type HttpFormat = 'ndjson' | 'splunk-hec' | 'elastic-bulk';

interface HttpReceiver {
  url: string;
  /** Rows of the batches it accepted, in arrival order (Elasticsearch: the documents it created). */
  rows: Entry[];
  batches: number;
  refused: number;
  maxInFlight: number;
  authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

/**
 * An HTTP receiver of one format. The first `failFirst` batches are answered 503. Elasticsearch:
 * documents are kept by _id and a second create of one is a 409 item, as Elasticsearch does; the
 * first batch it accepts has its last item refused (429) while the others are stored.
 */
async function httpReceiver(format: HttpFormat, o: { failFirst: number; delayMs?: number; index?: string }): Promise<HttpReceiver> {
  const state = { rows: [] as Entry[], batches: 0, refused: 0, inFlight: 0, maxInFlight: 0, authorizations: [] as Array<string | undefined> };
  const esDocs = new Set<string>();
  let partialDone = false;
  const server = http.createServer((req, res) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        state.inFlight--;
        state.batches++;
        state.authorizations.push(req.headers.authorization);
        if (state.batches <= o.failFirst) {
          state.refused++;
          res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
          return;
        }
        const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
        const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        if (format === 'ndjson') {
          expect(req.headers['content-type']).toBe('application/x-ndjson');
          state.rows.push(...(parsed as Entry[]));
          res.writeHead(200).end();
        } else if (format === 'splunk-hec') {
          for (const env of parsed) {
            const e = env.event as Entry;
            expect(env).toEqual({ time: Date.parse(e.time as string) / 1000, host: e.replica, source: 'jira-auth-sidecar', sourcetype: 'jira-auth-sidecar:audit', ...(o.index ? { index: o.index } : {}), event: e });
            state.rows.push(e);
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
        } else {
          expect(req.url).toBe('/_bulk');
          const items: unknown[] = [];
          for (let i = 0; i < parsed.length; i += 2) {
            const action = parsed[i] as { create: { _index?: string; _id: string } };
            const { '@timestamp': ts, ...doc } = parsed[i + 1] as Entry;
            expect(action.create._index).toBe(o.index);
            expect(action.create._id).toBe(doc.rowHash);
            expect(ts).toBe(doc.time);
            const last = i + 2 >= parsed.length;
            if (!partialDone && last) {
              partialDone = true;
              items.push({ create: { _id: action.create._id, status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution' } } });
            } else if (esDocs.has(action.create._id)) {
              items.push({ create: { _id: action.create._id, status: 409, error: { type: 'version_conflict_engine_exception', reason: 'document already exists' } } });
            } else {
              esDocs.add(action.create._id);
              state.rows.push(doc);
              items.push({ create: { _id: action.create._id, status: 201, result: 'created' } });
            }
          }
          const errors = items.some((x) => (x as { create: { status: number } }).create.status >= 300);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ took: 1, errors, items }));
        }
      }, o.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${format === 'elastic-bulk' ? '/_bulk' : format === 'splunk-hec' ? '/services/collector/event' : '/ingest'}`,
    get rows() {
      return state.rows;
    },
    get batches() {
      return state.batches;
    },
    get refused() {
      return state.refused;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    authorizations: state.authorizations,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---- checks ----

/**
 * Every id 1..n of the replica arrived, the first copy of each in id order: an id is either the
 * next one or a copy of one already there (a batch sent again).
 */
function expectComplete(rows: Entry[], replica: string, n: number): void {
  const ids = rows.filter((r) => r.replica === replica).map((r) => r.id as number);
  let max = 0;
  const seen = new Set<number>();
  for (const id of ids) {
    if (id > max) {
      expect(id, `${replica}: the row after ${max}`).toBe(max + 1);
      max = id;
    } else expect(seen.has(id), `${replica}: ${id} again`).toBe(true);
    seen.add(id);
  }
  expect(max, `${replica}: rows shipped`).toBe(n);
}

/** README "Shipping the audit log to a SIEM": the chain verified from shipped rows alone; the head hash per replica. */
function verifyShippedChain(rows: Entry[]): Map<string, string> {
  const heads = new Map<string, string>();
  const byReplica = new Map<string, Map<number, Entry>>();
  for (const r of rows) {
    const m = byReplica.get(r.replica as string) ?? new Map<number, Entry>();
    m.set(r.id as number, r);
    byReplica.set(r.replica as string, m);
  }
  for (const [replica, m] of byReplica) {
    const ordered = [...m.values()].sort((a, b) => (a.id as number) - (b.id as number));
    let prev = ordered[0]!.id === 1 ? '0'.repeat(64) : (ordered[0]!.prevHash as string);
    let prevId = (ordered[0]!.id as number) - 1;
    for (const r of ordered) {
      expect(r.id).toBe(prevId + 1);
      expect(r.prevHash, `${replica} ${r.id}: link`).toBe(prev);
      const values: Array<string | number | null> = [
        r.id as number, Date.parse(r.time as string), r.requestId!, r.decision!, r.reason!, r.status!, r.method!, r.path!, r.clientIp!, r.user!, r.credentialKind!,
        r.tokenId!, r.clientId!, r.issuer!, r.latencyMs!, r.upstreamStatus!, r.route!, r.stage!, r.rule!, r.wouldDeny!, r.userAgent!, r.facts!,
      ].map((v) => v ?? null);
      while (values.length > 19 && values[values.length - 1] === null) values.pop();
      expect(createHash('sha256').update(prev + JSON.stringify(values)).digest('hex'), `${replica} ${r.id}: hash`).toBe(r.rowHash);
      prev = r.rowHash as string;
      prevId = r.id as number;
    }
    heads.set(replica, prev);
  }
  return heads;
}

/** The sidecar's own NDJSON export, by "replica id". */
async function exportOf(s: TestSidecar): Promise<Map<string, Entry>> {
  let text = '';
  for await (const chunk of s.runtime.deps.services.audit!.export({}, 'ndjson')) text += String(chunk);
  const out = new Map<string, Entry>();
  for (const line of text.split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as Entry;
    out.set(`${e.replica} ${e.id}`, e);
  }
  return out;
}

/** Shipped rows carry exactly the export's fields, in its order, with its values. */
async function expectExportFields(s: TestSidecar, rows: Entry[]): Promise<void> {
  const exported = await exportOf(s);
  for (const r of rows) {
    const e = exported.get(`${r.replica} ${r.id}`);
    expect(e, `row ${r.replica} ${r.id} in the export`).toBeDefined();
    expect(Object.keys(r)).toEqual(Object.keys(e!));
    expect(r).toEqual(e);
  }
}

async function metric(s: TestSidecar, name: string, destination: string): Promise<number | undefined> {
  const text = await (await fetch(`${s.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${name}\\{destination="${destination}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

const headId = async (s: TestSidecar) => (await s.runtime.stores.audit.headOf({ kind: 'request', replica: s.runtime.stores.audit.replica })).id;

/** `n` guarded requests: allowed anonymous reads, refused credentials, and a User-Agent with characters syslog escapes. */
async function traffic(s: TestSidecar, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const headers: Array<[string, string]> = [['User-Agent', `shipper-test ${tag} "q${i}" ]b\\s ü`]];
    if (i % 4 === 1) headers.push(['Authorization', 'Bearer not-a-token']);
    if (i % 4 === 2) headers.push(['Authorization', 'Basic !!!']);
    await rawRequest(s.proxyUrl, { path: `/rest/api/2/issue/DEMO-${i}`, headers });
  }
}

/** Waits until the sidecar wrote `n` rows in all. */
const written = (s: TestSidecar, n: number) => until(async () => (await headId(s)) >= n, `${n} audit rows written`);

const shipping = (o: Record<string, unknown>) => ({ audit: { flushIntervalMs: 20, shipping: { maxBackoffMs: 200, timeoutMs: 3000, ...o } } });

// ---- a test CA ----

let pki: string;
const pem = (name: string) => path.join(pki, name);

function makePki(): void {
  pki = tempDir('shipping-pki-');
  // good-ca.pem signs server.pem (the receiver's); other-ca.pem is a CA the sidecar must not trust (test/helpers/tls.ts).
  makeCa('good', pki).issue('server', { cn: 'syslog receiver', san: 'IP:127.0.0.1,DNS:localhost' });
  makeCa('other', pki);
}

// ---- the cases ----

describe('syslog over TCP (RFC 6587 octet counting, RFC 5424, JSON body)', () => {
  it('ships every row once the receiver is up, resumes after an outage, and after a restart only what is new', { timeout: 90_000 }, async () => {
    const rx = await syslogReceiver();
    cleanup.push(() => rx.close());
    await rx.down(); // not there yet: connections are refused
    const dataDir = tempDir('shipping-tcp-');
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const cfg = shipping({ syslog: { enabled: true, url: `tcp://127.0.0.1:${rx.port}`, batchRows: 7, flushIntervalMs: 50 } });

    let s = await startTestSidecar(upstream.url, cfg, { dataDir });
    cleanup.push(() => s.close());
    const replica = s.runtime.stores.audit.replica;
    await traffic(s, 20, 'first');
    await written(s, 20);
    await until(async () => ((await metric(s, 'sidecar_audit_shipping_failures_total', 'syslog')) ?? 0) >= 2, 'failed attempts while the receiver is down');
    expect(await metric(s, 'sidecar_audit_shipping_lag_rows', 'syslog')).toBe(20);
    expect((await metric(s, 'sidecar_audit_shipping_lag_seconds', 'syslog'))!).toBeGreaterThan(0);
    // The SIEM being down is not the sidecar being unready.
    expect((await fetch(`${s.adminUrl}/readyz`)).status).toBe(200);
    expect(rx.messages).toEqual([]);

    await rx.up();
    await until(() => rx.messages.length >= 20, 'the first 20 rows at the receiver');
    await until(async () => (await metric(s, 'sidecar_audit_shipping_lag_rows', 'syslog')) === 0, 'lag back to 0');
    expect(await metric(s, 'sidecar_audit_shipping_lag_seconds', 'syslog')).toBe(0);
    expect(await metric(s, 'sidecar_audit_shipped_total', 'syslog')).toBe(20);

    // The receiver goes away and comes back (a SIEM restart): rows written meanwhile wait.
    await rx.down();
    await new Promise((r) => setTimeout(r, 100));
    await traffic(s, 5, 'during-outage');
    await written(s, 25);
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.messages.length).toBe(20);
    await rx.up();
    await until(() => rx.messages.length >= 25, 'the rows written during the outage');
    await until(async () => (await metric(s, 'sidecar_audit_shipping_lag_rows', 'syslog')) === 0, 'lag back to 0');
    await s.close();

    // A second start on the same data: the stored cursor says where to go on.
    s = await startTestSidecar(upstream.url, cfg, { dataDir });
    await traffic(s, 9, 'second');
    await written(s, 34);
    await until(() => rx.messages.length >= 34, 'the rows of the second run');
    await until(async () => (await metric(s, 'sidecar_audit_shipping_lag_rows', 'syslog')) === 0, 'lag back to 0');
    await new Promise((r) => setTimeout(r, 200));

    // Exactly once here (no batch was lost in flight), in order, and nothing re-sent after the restart.
    const entries = rx.messages.map((m) => JSON.parse(m.msg) as Entry);
    expect(entries.map((e) => e.id)).toEqual(Array.from({ length: 34 }, (_, i) => i + 1));
    expectComplete(entries, replica, 34);
    expect(await metric(s, 'sidecar_audit_shipped_total', 'syslog')).toBe(9);
    for (const [m, e] of rx.messages.map((x, i) => [x, entries[i]!] as const)) {
      expect(m.bom).toBe(true);
      expect(m).toMatchObject({ version: '1', timestamp: e.time, hostname: replica.replace(/[^!-~]/g, '_'), appName: 'jira-auth-sidecar', procId: '-', msgId: 'audit', sd: [] });
      expect(m.pri).toBe(13 * 8 + (e.decision === 'error' ? 3 : e.decision === 'deny' ? 4 : 6));
    }
    expect(new Set(entries.map((e) => e.decision)).size).toBeGreaterThan(1);
    await expectExportFields(s, entries);
    const heads = verifyShippedChain(entries);
    expect(heads.get(replica)).toBe((await s.runtime.stores.audit.headOf({ kind: 'request', replica })).hash);
  });
});

describe('syslog over TLS (RFC 5425) with structured data', () => {
  beforeAll(makePki);
  afterAll(() => rmSync(pki, { recursive: true, force: true }));

  it('a receiver whose certificate is not from caFile gets nothing; with the right CA every row arrives as SD-PARAMs', { timeout: 60_000 }, async () => {
    const rx = await syslogReceiver({ key: readFileSync(pem('server.key')), cert: readFileSync(pem('server.pem')) });
    cleanup.push(() => rx.close());
    const dataDir = tempDir('shipping-tls-');
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const syslog = (caFile: string) => ({ enabled: true, url: `tls://127.0.0.1:${rx.port}`, caFile, facility: 20, format: 'structured-data', appName: 'jas-test', batchRows: 4, flushIntervalMs: 50 });
    const cfg = shipping({ syslog: syslog(pem('other-ca.pem')) });
    const s = await startTestSidecar(upstream.url, cfg, { dataDir });
    cleanup.push(() => s.close());
    const replica = s.runtime.stores.audit.replica;
    await traffic(s, 10, 'tls');
    await written(s, 10);
    await until(async () => ((await metric(s, 'sidecar_audit_shipping_failures_total', 'syslog')) ?? 0) >= 2, 'refused handshakes');
    expect(rx.messages).toEqual([]);
    expect(await metric(s, 'sidecar_audit_shipping_lag_rows', 'syslog')).toBe(10);
    expect((await fetch(`${s.adminUrl}/readyz`)).status).toBe(200);

    // A reload with the right CA: the shipper is rebuilt and goes on from the stored cursor (0).
    const v = validate(merge(baseConfig(upstream.url, dataDir), shipping({ syslog: syslog(pem('good-ca.pem')) })));
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    s.runtime.applyConfig(v.config);
    await until(() => rx.messages.length >= 10, 'every row over TLS');
    await until(async () => (await metric(s, 'sidecar_audit_shipping_lag_rows', 'syslog')) === 0, 'lag back to 0');

    const exported = await exportOf(s);
    const names = new Map(ENTRY_FIELDS.map(([k, col]) => [col, k]));
    const entries: Entry[] = [];
    for (const m of rx.messages) {
      expect(m).toMatchObject({ version: '1', appName: 'jas-test', msgId: 'audit', bom: true });
      expect(m.sd).toHaveLength(1);
      expect(m.sd[0]!.id).toBe('jiraAuthSidecar@32473');
      const p = m.sd[0]!.params;
      const e = exported.get(`${p.replica} ${p.id}`)!;
      expect(e).toBeDefined();
      // Each non-null export field as a PARAM named like the CSV column, its value as text; nothing else.
      const expected = Object.fromEntries(ENTRY_FIELDS.filter(([k]) => e[k] !== null).map(([k, col]) => [col, String(e[k])]));
      expect(p).toEqual(expected);
      expect(m.pri).toBe(20 * 8 + (e.decision === 'error' ? 3 : e.decision === 'deny' ? 4 : 6));
      expect(m.timestamp).toBe(e.time);
      expect(m.msg).toBe(`${e.decision} ${e.method} ${e.path} ${e.status} ${e.reason}`);
      entries.push(Object.fromEntries(Object.entries(p).map(([col, val]) => [names.get(col)!, val])) as Entry);
    }
    // The User-Agent's quote, bracket and backslash came through the escaping intact.
    expect(rx.messages.some((m) => m.sd[0]!.params.user_agent?.includes('"q3" ]b\\s ü'))).toBe(true);
    expectComplete(
      entries.map((e) => ({ ...e, id: Number(e.id) })),
      replica,
      10,
    );
  });
});

describe.each(['ndjson', 'splunk-hec', 'elastic-bulk'] as const)('HTTP, %s', (format) => {
  it('refused batches are sent again until accepted; a restart resumes from the stored cursor; the fields are the export\'s', { timeout: 90_000 }, async () => {
    const index = format === 'ndjson' ? undefined : 'sidecar-audit';
    const rx = await httpReceiver(format, { failFirst: 3, index });
    cleanup.push(() => rx.close());
    const dataDir = tempDir(`shipping-${format}-`);
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const authorization = format === 'splunk-hec' ? 'Splunk 6e1c0d2a-hec-token' : format === 'elastic-bulk' ? 'ApiKey ZWxhc3RpYzprZXk=' : undefined;
    const cfg = shipping({ http: { enabled: true, url: rx.url, format, authorization, index, batchRows: 6, flushIntervalMs: 50 } });

    let s = await startTestSidecar(upstream.url, cfg, { dataDir });
    cleanup.push(() => s.close());
    const replica = s.runtime.stores.audit.replica;
    await traffic(s, 16, format);
    await written(s, 16);
    await until(async () => new Set(rx.rows.map((r) => r.id)).size >= 16, 'the first 16 rows accepted');
    await until(async () => (await metric(s, 'sidecar_audit_shipping_lag_rows', 'http')) === 0, 'lag back to 0');
    expect(rx.refused).toBe(3);
    expect((await metric(s, 'sidecar_audit_shipping_failures_total', 'http'))!).toBeGreaterThanOrEqual(3);
    expect(rx.authorizations.every((a) => a === authorization)).toBe(true);
    const firstRun = rx.rows.length;
    await s.close();

    s = await startTestSidecar(upstream.url, cfg, { dataDir });
    await traffic(s, 8, `${format}-2`);
    await written(s, 24);
    await until(async () => new Set(rx.rows.map((r) => r.id)).size >= 24, 'the rows of the second run');
    await until(async () => (await metric(s, 'sidecar_audit_shipping_lag_rows', 'http')) === 0, 'lag back to 0');
    expect(await metric(s, 'sidecar_audit_shipping_lag_seconds', 'http')).toBe(0);

    expectComplete(rx.rows, replica, 24);
    // Nothing before the cursor was sent again after the restart: only the 8 new rows.
    expect(rx.rows.slice(firstRun).map((r) => r.id)).toEqual([17, 18, 19, 20, 21, 22, 23, 24]);
    if (format === 'elastic-bulk') {
      // The partly refused batch was sent again whole; Elasticsearch kept each document once.
      expect(rx.rows.map((r) => r.id)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    }
    await expectExportFields(s, rx.rows);
    const heads = verifyShippedChain(rx.rows);
    expect(heads.get(replica)).toBe((await s.runtime.stores.audit.headOf({ kind: 'request', replica })).hash);
    // No secret in any shipped field: not the Authorization the requests carried, nor the shipper's own.
    const shipped = JSON.stringify(rx.rows);
    expect(shipped).not.toContain('not-a-token');
    expect(shipped).not.toContain('!!!');
    if (authorization) {
      expect(shipped).not.toContain(authorization.split(' ')[1]!);
      // The shipper's credential is a secret of the configuration: masked by the admin API.
      const admin = new AdminClient(s.adminUrl);
      expect((await admin.login()).status).toBe(200);
      const doc = await admin.call('GET', '/api/config');
      expect(doc.body.config.audit.shipping.http.authorization).toBe('********');
      expect(JSON.stringify(doc.body)).not.toContain(authorization.split(' ')[1]!);
    }
  });
});

describe('PostgreSQL: two replicas on one database', () => {
  it("every row of both replicas is shipped, one shipper at a time, each once; the lag reaches 0 on both", { timeout: 90_000 }, async () => {
    const db = await freshDatabase('shipping');
    cleanup.push(() => db.drop());
    const rx = await httpReceiver('ndjson', { failFirst: 2, delayMs: 25 });
    cleanup.push(() => rx.close());
    const replicaCfg = (name: string) => ({
      server: { replicaName: name },
      store: { kind: 'postgres', url: db.url, poolSize: 4, syncIntervalMs: 200 },
      ...shipping({ http: { enabled: true, url: rx.url, format: 'ndjson', batchRows: 5, flushIntervalMs: 20 } }),
    });
    const a = await startTestSidecar(upstream.url, replicaCfg('replica-a'));
    cleanup.push(() => a.close());
    const b = await startTestSidecar(upstream.url, replicaCfg('replica-b'));
    cleanup.push(() => b.close());

    for (let i = 0; i < 3; i++) {
      await Promise.all([traffic(a, 6, `a${i}`), traffic(b, 6, `b${i}`)]);
    }
    const chainHead = (s: TestSidecar, replica: string) => s.runtime.stores.audit.headOf({ kind: 'request', replica });
    await until(async () => (await chainHead(a, 'replica-a')).id >= 18 && (await chainHead(a, 'replica-b')).id >= 18, 'both chains written');
    await until(() => rx.rows.length >= 36, 'rows of both replicas at the receiver', 30_000);
    for (const s of [a, b]) await until(async () => (await metric(s, 'sidecar_audit_shipping_lag_rows', 'http')) === 0, 'lag 0 on each replica');
    await new Promise((r) => setTimeout(r, 300));

    expect(rx.refused).toBe(2);
    // Each row exactly once: the cursor is read and advanced under the lock, so two replicas never send the same rows.
    expect(rx.rows.length).toBe(36);
    expect(new Set(rx.rows.map((r) => `${r.replica} ${r.id}`)).size).toBe(36);
    expectComplete(rx.rows, 'replica-a', 18);
    expectComplete(rx.rows, 'replica-b', 18);
    // One shipper at a time: never two batches in flight to the receiver.
    expect(rx.maxInFlight).toBe(1);
    const shippedBy = [(await metric(a, 'sidecar_audit_shipped_total', 'http')) ?? 0, (await metric(b, 'sidecar_audit_shipped_total', 'http')) ?? 0];
    expect(shippedBy[0]! + shippedBy[1]!).toBe(36);
    await expectExportFields(a, rx.rows);
    const heads = verifyShippedChain(rx.rows);
    for (const r of ['replica-a', 'replica-b']) expect(heads.get(r)).toBe((await chainHead(b, r)).hash);
  });
});

describe('audit.shipping configuration', () => {
  const issues = (shippingCfg: unknown) => {
    const v = validate({ audit: { shipping: shippingCfg } });
    return v.ok ? [] : v.issues;
  };

  it('is off by default, and every problem is named at its path', () => {
    const v = validate({});
    expect(v.ok && v.config.audit.shipping).toEqual({
      syslog: { enabled: false, appName: 'jira-auth-sidecar', facility: 'log_audit', format: 'json', batchRows: 500, flushIntervalMs: 1000 },
      http: { enabled: false, format: 'ndjson', batchRows: 500, flushIntervalMs: 1000 },
      maxBackoffMs: 60_000,
      timeoutMs: 10_000,
    });
    expect(issues({ syslog: { enabled: true } })).toEqual([{ path: 'audit.shipping.syslog.url', message: expect.stringContaining('required when syslog shipping is enabled') }]);
    for (const url of ['udp://siem:514', 'tcp://siem', 'https://siem:514', 'tcp://siem:514/path']) {
      expect(issues({ syslog: { url } }), url).toEqual([{ path: 'audit.shipping.syslog.url', message: expect.stringContaining('tcp://host:port or tls://host:port') }]);
    }
    expect(issues({ syslog: { url: 'tcp://siem:514', caFile: '/etc/ca.pem' } })).toEqual([{ path: 'audit.shipping.syslog.caFile', message: 'only used with a tls:// URL' }]);
    expect(issues({ syslog: { url: 'tls://siem:6514', caFile: '/etc/ca.pem', facility: 13 } })).toEqual([]);
    expect(issues({ syslog: { facility: 'local9' } })).toEqual([{ path: 'audit.shipping.syslog.facility', message: expect.stringContaining('a number 0-23 or one of') }]);
    expect(issues({ syslog: { appName: 'two words' } })).toEqual([{ path: 'audit.shipping.syslog.appName', message: expect.stringContaining('APP-NAME') }]);
    expect(issues({ http: { enabled: true } })).toEqual([{ path: 'audit.shipping.http.url', message: expect.stringContaining('required when HTTP shipping is enabled') }]);
    expect(issues({ http: { url: 'ftp://siem/x', format: 'csv' } }).map((i) => i.path)).toEqual(['audit.shipping.http.url', 'audit.shipping.http.format']);
    expect(issues({ http: { url: 'https://es:9200/_bulk', format: 'elastic-bulk' } })).toEqual([{ path: 'audit.shipping.http.index', message: expect.stringContaining('required for elastic-bulk') }]);
    expect(issues({ http: { url: 'https://es:9200/audit/_bulk', format: 'elastic-bulk' } })).toEqual([]);
    expect(issues({ maxBackoffMs: 5, timeoutMs: 0 }).map((i) => i.path)).toEqual(['audit.shipping.maxBackoffMs', 'audit.shipping.timeoutMs']);
  });
});
