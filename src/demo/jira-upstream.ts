// A Jira-like upstream for the demo, the tests and the benchmark: a handful of /rest/api/2
// endpoints, an SSE stream, and test endpoints (echo, big, slow). It records every request it
// sees, so tests can assert that a refused request never reached "Jira".
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
}

export interface JiraUpstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  /** Users known to the fake Jira with their groups (for /rest/api/2/user?expand=groups). */
  users: Map<string, string[]>;
  /** Users of `users` Jira answers with `active: false` (deactivated). */
  inactive: Set<string>;
  /** Requests currently open (to observe client-abort propagation). */
  open(): number;
  closedEarly: number;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(s), ...extra });
  res.end(s);
};

/** Who Jira thinks the caller is: trusted header (header authenticator), PAT, Basic, or session cookie. */
function whoAmI(req: IncomingMessage, identityHeader: string): string | undefined {
  const h = req.headers[identityHeader.toLowerCase()];
  if (typeof h === 'string' && h) return h;
  const auth = req.headers.authorization ?? '';
  if (/^basic /i.test(auth)) return Buffer.from(auth.slice(6), 'base64').toString().split(':')[0];
  if (/^bearer /i.test(auth)) return 'pat-user';
  if (/JSESSIONID=/.test(req.headers.cookie ?? '')) return 'session-user';
  return undefined;
}

export interface UpstreamOptions {
  port?: number;
  identityHeader?: string;
  /** Keep only the last N seen requests (the bench sets 0). */
  keepSeen?: number;
  /** Largest request head accepted (node's default 16 KiB; Tomcat's maxHttpHeaderSize is 8 KiB). */
  maxHeaderBytes?: number;
  /** HTTPS (tests of upstream.tls): PEM certificate and key; with `ca`, a client certificate it issued is required (mutual TLS). */
  tls?: { cert: string; key: string; ca?: string };
}

export async function startJiraUpstream(opts: UpstreamOptions = {}): Promise<JiraUpstream> {
  const identityHeader = opts.identityHeader ?? 'X-Forwarded-User';
  const keep = opts.keepSeen ?? 10_000;
  const seen: SeenRequest[] = [];
  const users = new Map<string, string[]>([
    ['alice', ['jira-users', 'jira-developers']],
    ['bob', ['jira-users', 'auditors']],
    ['svc-integration', ['jira-users', 'integrations']],
  ]);
  const inactive = new Set<string>();
  let openCount = 0;
  let issueSeq = 100;
  const state = { closedEarly: 0 };
  const big = Buffer.alloc(1024 * 1024, 'x');

  const httpOptions = { maxHeaderSize: opts.maxHeaderBytes ?? 16384 };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    openCount++;
    let finished = false;
    res.on('finish', () => (finished = true));
    res.on('close', () => {
      openCount--;
      if (!finished) state.closedEarly++;
    });
    const hash = createHash('sha256');
    let bytes = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
      if (bytes <= 2 * 1024 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const rec: SeenRequest = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes, bodySha256: hash.digest('hex') };
      if (keep > 0) {
        seen.push(rec);
        if (seen.length > keep) seen.shift();
      }
      handle(req, res, rec, Buffer.concat(chunks));
    });
  };
  const t = opts.tls;
  const server = t
    ? https.createServer({ ...httpOptions, cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca, requestCert: true, rejectUnauthorized: true } : {}) }, onRequest)
    : http.createServer(httpOptions, onRequest);

  function handle(req: IncomingMessage, res: ServerResponse, rec: SeenRequest, body: Buffer) {
    const u = new URL(req.url!, 'http://jira.local');
    const user = whoAmI(req, identityHeader);
    const p = u.pathname;
    if (p === '/rest/api/2/serverInfo') return json(res, 200, { baseUrl: 'http://jira.local', version: '9.12.0', deploymentType: 'Server', serverTitle: 'Demo Jira' });
    if (p === '/rest/api/2/myself') {
      if (!user) return json(res, 401, { errorMessages: ['You are not authenticated.'] });
      return json(res, 200, { name: user, key: user, displayName: user, active: true, groups: { items: (users.get(user) ?? []).map((name) => ({ name })) } });
    }
    if (p === '/rest/api/2/user') {
      const name = u.searchParams.get('username') ?? '';
      if (!user) return json(res, 401, { errorMessages: ['You are not authenticated.'] });
      const groups = users.get(name);
      if (!groups) return json(res, 404, { errorMessages: [`The user named '${name}' does not exist`] });
      return json(res, 200, { name, key: name, active: !inactive.has(name), groups: { size: groups.length, items: groups.map((g) => ({ name: g })) } });
    }
    if (p === '/rest/api/2/search') {
      const n = Math.min(Number(u.searchParams.get('maxResults') ?? 50), 500);
      const issues = Array.from({ length: n }, (_, i) => ({ id: String(10000 + i), key: `DEMO-${i + 1}`, fields: { summary: `Issue number ${i + 1} with a realistic summary`, status: { name: 'Open' }, assignee: user ?? null } }));
      return json(res, 200, { startAt: 0, maxResults: n, total: n, issues });
    }
    if (p === '/rest/api/2/issue' && req.method === 'POST') {
      if (!user) return json(res, 401, { errorMessages: ['You are not authenticated.'] });
      const key = `DEMO-${++issueSeq}`;
      let fields: unknown = null;
      try {
        fields = JSON.parse(body.toString() || 'null');
      } catch {
        return json(res, 400, { errorMessages: ['Invalid JSON'] });
      }
      return json(res, 201, { id: String(issueSeq), key, self: `http://jira.local/rest/api/2/issue/${key}`, reporter: user, echo: fields });
    }
    if (p.startsWith('/rest/api/2/issue/')) return json(res, 200, { key: p.split('/').pop(), fields: { summary: 'An issue' }, viewer: user ?? null });
    if (p === '/rest/llm/stream' || p === '/sse') {
      const n = Number(u.searchParams.get('events') ?? 20);
      const gap = Number(u.searchParams.get('gapMs') ?? 50);
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      let i = 0;
      const tick = () => {
        if (res.destroyed) return;
        i++;
        res.write(`id: ${i}\nevent: token\ndata: {"n":${i},"user":${JSON.stringify(user ?? null)}}\n\n`);
        if (i >= n) return void res.end();
        setTimeout(tick, gap);
      };
      tick();
      return;
    }
    // Test endpoints.
    if (p === '/rest/test/echo' || p.startsWith('/rest/test/echo/')) {
      return json(res, 200, { method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: rec.bodyBytes, bodySha256: rec.bodySha256 });
    }
    if (p === '/rest/test/big') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': big.length });
      return void res.end(big);
    }
    if (p === '/rest/test/slow') {
      const ms = Number(u.searchParams.get('ms') ?? 1000);
      const t = setTimeout(() => json(res, 200, { slept: ms }), ms);
      res.on('close', () => clearTimeout(t));
      return;
    }
    if (p === '/rest/test/status') return json(res, Number(u.searchParams.get('code') ?? 200), { ok: true });
    if (p.startsWith('/rest/')) return json(res, 200, { path: p, method: req.method, user: user ?? null });
    res.writeHead(200, { 'Content-Type': 'text/html;charset=UTF-8' });
    res.end('<!doctype html><title>Jira</title><h1>Jira UI</h1>');
  }

  // A busy port must reject (the demo falls back to a free one), not crash on an unhandled 'error'.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${t ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    seen,
    users,
    inactive,
    open: () => openCount,
    get closedEarly() {
      return state.closedEarly;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
