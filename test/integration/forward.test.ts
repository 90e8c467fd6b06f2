// The forward stage against a real Jira-like upstream: methods, bodies, byte-exact targets,
// streaming (SSE), upstream failures and client aborts. Nothing here is mocked.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { json, rawRequest, rawSocket, until } from '../helpers/http.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let upstream: JiraUpstream;
let sidecar: TestSidecar;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  sidecar = await startTestSidecar(upstream.url);
});
afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
});

const lastSeen = () => upstream.seen[upstream.seen.length - 1]!;

describe('methods and bodies pass unchanged', () => {
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
  for (const method of methods) {
    it(`${method} reaches the upstream with its body`, async () => {
      const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.from(`{"m":"${method}"}`);
      const headers: Array<[string, string]> = body ? [['Content-Type', 'application/json'], ['Content-Length', String(body.length)]] : [];
      const r = await rawRequest(sidecar.proxyUrl, { method, path: `/rest/test/echo/${method.toLowerCase()}`, headers, body });
      expect(r.status).toBe(200);
      const seen = lastSeen();
      expect(seen.method).toBe(method);
      expect(seen.url).toBe(`/rest/test/echo/${method.toLowerCase()}`);
      expect(seen.bodySha256).toBe(sha256(body ?? Buffer.alloc(0)));
      if (method === 'HEAD') expect(r.body.length).toBe(0);
      else expect(json(r).method).toBe(method);
    });
  }

  it('a 1 MB upload arrives byte-identical (Content-Length)', async () => {
    const body = randomBytes(1024 * 1024);
    const r = await rawRequest(sidecar.proxyUrl, {
      method: 'POST',
      path: '/rest/test/echo',
      headers: [['Content-Type', 'application/octet-stream'], ['Content-Length', String(body.length)]],
      body,
    });
    expect(r.status).toBe(200);
    expect(json(r)).toMatchObject({ bodyBytes: body.length, bodySha256: sha256(body) });
  });

  it('a 1 MB chunked upload arrives byte-identical (no Content-Length)', async () => {
    const body = randomBytes(1024 * 1024);
    const u = new URL(sidecar.proxyUrl);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, method: 'PUT', path: '/rest/test/echo', agent: false });
      req.on('response', resolve);
      req.on('error', reject);
      // Several writes without a length: node sends Transfer-Encoding: chunked.
      for (let i = 0; i < 16; i++) req.write(body.subarray(i * 65536, (i + 1) * 65536));
      req.end();
    });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ bodyBytes: body.length, bodySha256: sha256(body) });
  });

  it('a 1 MB download arrives byte-identical', async () => {
    const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/test/big' });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(1024 * 1024);
    expect(sha256(r.body)).toBe(sha256(Buffer.alloc(1024 * 1024, 'x')));
    expect(r.headers['content-length']).toBe(String(1024 * 1024));
  });

  it('upstream statuses pass through unchanged', async () => {
    for (const code of [201, 204, 400, 404, 409, 500]) {
      const r = await rawRequest(sidecar.proxyUrl, { path: `/rest/test/status?code=${code}` });
      expect(r.status).toBe(code);
    }
  });
});

describe('request targets reach the upstream byte-for-byte', () => {
  // The forward stage never re-encodes a target. Encoded "/" is refused by route-rules on every path
  // while the sidecar is enabled (Tomcat's encodedSolidusHandling=reject, 400 path_invalid), so
  // those rows run with `enabled: false`, where the target is forwarded exactly as received.
  const targets: Array<[string, string, 'both' | 'disabled-only']> = [
    ['query string with repeats, empties and +', '/rest/test/echo?jql=project%20%3D%20DEMO%20ORDER%20BY%20key&x=a+b&x=2&empty=&flag', 'both'],
    ['encoded space', '/rest/test/echo/c%20d', 'both'],
    ['encoded slash', '/rest/test/echo/a%2Fb/c%20d', 'disabled-only'],
    ['lower-case percent escapes', '/rest/test/echo/a%2fb%3a', 'disabled-only'],
    ['percent-encoded UTF-8', '/rest/test/echo/%C3%A9t%C3%A9/%F0%9F%98%80?q=%E2%9C%93', 'both'],
    ['path parameters', '/rest/test/echo/x;jsessionid=abc/y;p=1?z=1', 'both'],
    ['reserved characters in the query', "/rest/test/echo?a=!$&'()*,;=:@/?x", 'both'],
  ];
  let disabled: TestSidecar;
  beforeAll(async () => {
    disabled = await startTestSidecar(upstream.url, { enabled: false });
  });
  afterAll(async () => {
    await disabled?.close();
  });
  for (const [name, target, where] of targets) {
    for (const mode of where === 'both' ? ['enabled', 'enabled: false'] : ['enabled: false']) {
      it(`${name} (${mode})`, async () => {
        const r = await rawRequest(mode === 'enabled' ? sidecar.proxyUrl : disabled.proxyUrl, { path: target });
        expect(r.status).toBe(200);
        expect(json(r).url).toBe(target);
        expect(lastSeen().url).toBe(target);
      });
    }
  }

  it('raw (unencoded) UTF-8 bytes in the target are refused with JSON 400 and never reach the upstream', async () => {
    // RFC 3986 allows only ASCII in a request target; node's parser (llhttp) rejects other bytes
    // before any stage runs, and the clientError handler answers in the contract's JSON shape.
    const before = upstream.seen.length;
    const answer = await rawSocket(
      sidecar.proxyUrl,
      Buffer.concat([Buffer.from('GET '), Buffer.from('/rest/test/echo/été', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error).toBe('bad_request');
    expect(upstream.seen.length).toBe(before);
  });

  it('an absolute-form target (RFC 9112 §3.2.2) is sent on in origin-form', async () => {
    const answer = await rawSocket(sidecar.proxyUrl, 'GET http://jira.example.com/rest/test/echo/abs?x=1 HTTP/1.1\r\nHost: jira.example.com\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(lastSeen().url).toBe('/rest/test/echo/abs?x=1');
  });
});

describe('streaming', () => {
  it('SSE: the first event reaches the client while the upstream is still streaming', async () => {
    const closedBefore = upstream.closedEarly;
    const u = new URL(sidecar.proxyUrl);
    // Event 2 is 30 s away: if the proxy buffered, event 1 would never be read before we abort.
    const req = http.request({ host: u.hostname, port: u.port, path: '/rest/llm/stream?events=2&gapMs=30000', agent: false });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const first = await new Promise<string>((resolve) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('\n\n')) resolve(text);
      });
    });
    expect(first).toContain('id: 1\n');
    expect(first).not.toContain('id: 2\n');
    // The upstream has not finished its response: the event came through mid-stream.
    expect(upstream.open()).toBeGreaterThanOrEqual(1);
    // Closing the client cancels the stream upstream.
    req.destroy();
    await until(() => upstream.closedEarly > closedBefore, 'upstream SSE response closed early');
  });

  it('SSE: every event arrives, in order, and the response ends', async () => {
    const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/llm/stream?events=5&gapMs=5' });
    const ids = [...r.body.toString().matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual([1, 2, 3, 4, 5]);
  });

  it('client abort before the response head closes the upstream request', async () => {
    const closedBefore = upstream.closedEarly;
    const u = new URL(sidecar.proxyUrl);
    const req = http.request({ host: u.hostname, port: u.port, path: '/rest/test/slow?ms=20000', agent: false });
    req.on('error', () => {});
    req.end();
    await until(() => upstream.seen.some((s) => s.url === '/rest/test/slow?ms=20000') && upstream.open() >= 1, 'slow request reached upstream');
    req.destroy();
    await until(() => upstream.closedEarly > closedBefore, 'upstream request closed after client abort');
  });

  it('client abort in the middle of an upload closes the upstream request', async () => {
    const closedBefore = upstream.closedEarly;
    const u = new URL(sidecar.proxyUrl);
    const req = http.request({ host: u.hostname, port: u.port, method: 'PUT', path: '/rest/test/echo/partial', agent: false, headers: { 'Content-Length': String(1024 * 1024) } });
    req.on('error', () => {});
    req.write(Buffer.alloc(64 * 1024, 'p'));
    await until(() => upstream.open() >= 1, 'upload reached upstream');
    req.destroy();
    await until(() => upstream.closedEarly > closedBefore && upstream.open() === 0, 'upstream upload closed after client abort');
  });
});

describe('upstream failures', () => {
  it('upstream down -> 502 upstream_unreachable as JSON', async () => {
    // A port that was just free: connecting is refused.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const down = await startTestSidecar(`http://127.0.0.1:${port}`);
    try {
      const r = await rawRequest(down.proxyUrl, { path: '/rest/api/2/myself' });
      expect(r.status).toBe(502);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      const b = json(r);
      expect(b.error).toBe('upstream_unreachable');
      expect(b.requestId).toBe(r.headers['x-request-id']);
      const metrics = await (await fetch(`${down.adminUrl}/metrics`)).text();
      expect(metrics).toContain('sidecar_requests_total{decision="error",code="upstream_unreachable",status="502"} 1');
      expect(metrics).toContain('sidecar_upstream_errors_total{kind="unreachable"} 1');
    } finally {
      await down.close();
    }
  });

  it('slow upstream -> 504 upstream_timeout after upstream.timeoutMs, and the upstream request is closed', async () => {
    const quick = await startTestSidecar(upstream.url, { upstream: { timeoutMs: 200 } });
    const closedBefore = upstream.closedEarly;
    try {
      const r = await rawRequest(quick.proxyUrl, { path: '/rest/test/slow?ms=20000' });
      expect(r.status).toBe(504);
      expect(json(r).error).toBe('upstream_timeout');
      await until(() => upstream.closedEarly > closedBefore, 'timed-out upstream request closed');
      const metrics = await (await fetch(`${quick.adminUrl}/metrics`)).text();
      expect(metrics).toContain('sidecar_requests_total{decision="error",code="upstream_timeout",status="504"} 1');
    } finally {
      await quick.close();
    }
  });

  describe('a keep-alive connection Jira closed while idle', () => {
    // Answers the first request on each connection (keep-alive), then closes the connection when a
    // second request arrives on it without answering: what a server's idle timeout looks like from
    // the client that just reused the socket.
    let stale: net.Server;
    let connections = 0;
    let answered: string[] = [];
    beforeAll(async () => {
      stale = net.createServer((sock) => {
        connections++;
        let buf = '';
        let served = 0;
        sock.on('data', (c) => {
          buf += c.toString('latin1');
          while (buf.includes('\r\n\r\n')) {
            const head = buf.slice(0, buf.indexOf('\r\n\r\n'));
            const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
            if (buf.length < head.length + 4 + len) return;
            buf = buf.slice(head.length + 4 + len);
            if (served++ > 0) return void sock.destroy();
            answered.push(head.split('\r\n')[0]!);
            sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
          }
        });
        sock.on('error', () => {});
      });
      await new Promise<void>((r) => stale.listen(0, '127.0.0.1', r));
    });
    afterAll(async () => {
      await new Promise((r) => stale.close(r));
    });

    it('an idempotent request is sent again once on a fresh connection (RFC 9112 §9.3.1)', async () => {
      const s = await startTestSidecar(`http://127.0.0.1:${(stale.address() as net.AddressInfo).port}`);
      answered = [];
      try {
        expect((await rawRequest(s.proxyUrl, { path: '/rest/a' })).status).toBe(200);
        const before = connections;
        const second = await rawRequest(s.proxyUrl, { path: '/rest/b' });
        expect(second.status).toBe(200);
        expect(second.body.toString()).toBe('ok');
        expect(answered).toEqual(['GET /rest/a HTTP/1.1', 'GET /rest/b HTTP/1.1']);
        expect(connections).toBe(before + 1);
        const metrics = await (await fetch(`${s.adminUrl}/metrics`)).text();
        expect(metrics).toContain('sidecar_upstream_errors_total{kind="stale_connection"} 1');
      } finally {
        await s.close();
      }
    });

    it('a POST is never sent twice: 502', async () => {
      const s = await startTestSidecar(`http://127.0.0.1:${(stale.address() as net.AddressInfo).port}`);
      answered = [];
      try {
        expect((await rawRequest(s.proxyUrl, { path: '/rest/a' })).status).toBe(200);
        const body = Buffer.from('{"x":1}');
        const r = await rawRequest(s.proxyUrl, { method: 'POST', path: '/rest/issue', headers: [['Content-Length', String(body.length)]], body });
        expect(r.status).toBe(502);
        expect(json(r).error).toBe('upstream_unreachable');
        expect(answered).toEqual(['GET /rest/a HTTP/1.1']);
      } finally {
        await s.close();
      }
    });
  });

  it('an upstream that drops the connection without answering -> 502', async () => {
    const rude = net.createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
    const s = await startTestSidecar(`http://127.0.0.1:${(rude.address() as net.AddressInfo).port}`);
    try {
      const r = await rawRequest(s.proxyUrl, { path: '/rest/api/2/myself' });
      expect(r.status).toBe(502);
      expect(json(r).error).toBe('upstream_unreachable');
    } finally {
      await s.close();
      await new Promise((r) => rude.close(r));
    }
  });
});
