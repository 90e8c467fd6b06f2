// What Jira receives in its headers, and what the admin listener reports, against real servers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { normalizeHeaderName } from '../../src/pipeline/forward/headers.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { json, rawRequest, rawSocket } from '../helpers/http.js';

let upstream: JiraUpstream;
let sidecar: TestSidecar;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  sidecar = await startTestSidecar(upstream.url, { upstream: { stripHeaders: ['X-Remote-User'] } });
});
afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
});

const lastSeen = () => upstream.seen[upstream.seen.length - 1]!;
/** Every header name the upstream received, normalised ("_" -> "-", lower case). */
const seenNames = () => {
  const raw = lastSeen().rawHeaders;
  return raw.filter((_, i) => i % 2 === 0).map(normalizeHeaderName);
};
const seenValues = (name: string) => {
  const raw = lastSeen().rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (normalizeHeaderName(raw[i]!) === name) out.push(raw[i + 1]!);
  return out;
};

describe('hop-by-hop headers (RFC 9110 §7.6.1)', () => {
  it('are dropped, including every name the Connection header lists', async () => {
    // A raw socket: node's client refuses to send some of these (Trailer without chunked).
    const head = [
      'GET /rest/test/echo HTTP/1.1',
      'Host: x',
      'Connection: close, X-Custom-Hop',
      'Connection: x_other_hop',
      'X-Custom-Hop: secret-1',
      'X-Other-Hop: secret-2',
      'Keep-Alive: timeout=5',
      'Proxy-Connection: keep-alive',
      'Proxy-Authorization: Basic cHJveHk6cHc=',
      'TE: trailers',
      'Trailer: X-Checksum',
      'X-Keep-Me: yes',
    ];
    const answer = await rawSocket(sidecar.proxyUrl, `${head.join('\r\n')}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const names = seenNames();
    for (const hop of ['x-custom-hop', 'x-other-hop', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer']) {
      expect(names, hop).not.toContain(hop);
    }
    // The sidecar's own connection to Jira may say keep-alive; the client's tokens never get through.
    expect(seenValues('connection').join(',')).not.toMatch(/hop/i);
    expect(seenValues('x-keep-me')).toEqual(['yes']);
  });
});

describe('X-Forwarded-* and X-Request-Id', () => {
  it('X-Forwarded-For appends the peer; Proto and Host are set by the sidecar, not the client', async () => {
    await rawRequest(sidecar.proxyUrl, {
      path: '/rest/test/echo',
      headers: [
        ['Host', 'jira.example.com'],
        ['X-Forwarded-For', '203.0.113.7'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'evil.example'],
      ],
    });
    expect(seenValues('x-forwarded-for')).toEqual(['203.0.113.7, 127.0.0.1']);
    expect(seenValues('x-forwarded-proto')).toEqual(['http']);
    expect(seenValues('x-forwarded-host')).toEqual(['jira.example.com']);
    expect(seenValues('host')).toEqual([new URL(upstream.url).host]);
  });

  it('without a client X-Forwarded-For the peer address alone is sent', async () => {
    await rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo' });
    expect(seenValues('x-forwarded-for')).toEqual(['127.0.0.1']);
  });

  it('a safe client X-Request-Id is kept, on the response and towards Jira', async () => {
    const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo', headers: [['X-Request-Id', 'trace-abc.123:9']] });
    expect(r.headers['x-request-id']).toBe('trace-abc.123:9');
    expect(seenValues('x-request-id')).toEqual(['trace-abc.123:9']);
  });

  for (const [name, bad] of [
    ['spaces and markup', 'a b <script>'],
    ['too long', 'x'.repeat(129)],
    ['log-injection attempt', 'id","level":"fatal'],
  ] as const) {
    it(`an unsafe client X-Request-Id (${name}) is replaced by a generated one`, async () => {
      const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo', headers: [['X-Request-Id', bad]] });
      const id = r.headers['x-request-id'] as string;
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(seenValues('x-request-id')).toEqual([id]);
    });
  }

  it('responses on unprotected paths carry an X-Request-Id too (refusals: see the 502/504 and 431 tests)', async () => {
    const ok = await rawRequest(sidecar.proxyUrl, { path: '/secure/Dashboard.jspa' });
    expect(ok.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('spoofed identity headers never reach Jira', () => {
  const spoofs: Array<[string, string]> = [
    ['X-Forwarded-User', 'admin'],
    ['x_forwarded_user', 'admin2'],
    ['X-FORWARDED-USER', 'admin3'],
    ['x-Forwarded_User', 'admin4'],
    ['X-Sidecar-Secret', 'guess'],
    ['x_sidecar_secret', 'guess2'],
    ['X-Remote-User', 'root'],
    ['x_remote_user', 'root2'],
  ];
  const forbidden = ['x-forwarded-user', 'x-sidecar-secret', 'x-remote-user'];

  for (const [where, path] of [
    ['a guarded path', '/rest/api/2/myself'],
    ['an unprotected path', '/secure/Dashboard.jspa'],
  ] as const) {
    it(`on ${where}, in every spelling and duplicate`, async () => {
      const r = await rawRequest(sidecar.proxyUrl, { path, headers: spoofs });
      expect(lastSeen().url).toBe(path);
      const names = seenNames();
      for (const f of forbidden) expect(names, f).not.toContain(f);
      if (path === '/rest/api/2/myself') expect(r.status).toBe(401); // Jira saw no identity
    });
  }

  it('also with enabled: false (forwarding without authenticating)', async () => {
    const off = await startTestSidecar(upstream.url, { enabled: false, upstream: { stripHeaders: ['X-Remote-User'] } });
    try {
      const r = await rawRequest(off.proxyUrl, { path: '/rest/api/2/myself', headers: spoofs });
      expect(r.status).toBe(401);
      const names = seenNames();
      for (const f of forbidden) expect(names, f).not.toContain(f);
    } finally {
      await off.close();
    }
  });

  it('a Connection header cannot smuggle the identity header back in', async () => {
    await rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo', headers: [['Connection', 'X-Forwarded-User'], ['X-Forwarded-User', 'admin']] });
    expect(seenNames()).not.toContain('x-forwarded-user');
  });
});

describe('request head limits', () => {
  it('headers larger than server.maxHeaderBytes -> 431 JSON header_too_large, never forwarded', async () => {
    const small = await startTestSidecar(upstream.url, { server: { maxHeaderBytes: 2048 } });
    const before = upstream.seen.length;
    try {
      const answer = await rawSocket(small.proxyUrl, `GET /rest/test/echo HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8192)}\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 431 /);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
      expect(body.error).toBe('header_too_large');
      // Even a head that was never parsed gets a request id, in the body and the header.
      expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer).toContain(`\r\nX-Request-Id: ${body.requestId}\r\n`);
      expect(upstream.seen.length).toBe(before);
    } finally {
      await small.close();
    }
  });
});

describe('admin listener', () => {
  it('/healthz answers 200', async () => {
    const r = await rawRequest(sidecar.adminUrl, { path: '/healthz' });
    expect(r.status).toBe(200);
    expect(json(r).status).toBe('ok');
  });

  it('/readyz is 200 with the database open', async () => {
    const r = await rawRequest(sidecar.adminUrl, { path: '/readyz' });
    expect(r.status).toBe(200);
    expect(json(r).checks).toContainEqual({ name: 'store', ok: true, detail: 'sqlite' });
  });

  it('/metrics counts requests by decision and status, and has the latency histogram', async () => {
    const s = await startTestSidecar(upstream.url);
    try {
      await rawRequest(s.proxyUrl, { path: '/rest/test/status?code=200' });
      await rawRequest(s.proxyUrl, { path: '/rest/test/status?code=200' });
      await rawRequest(s.proxyUrl, { path: '/rest/test/status?code=404' });
      const r = await rawRequest(s.adminUrl, { path: '/metrics' });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/plain/);
      const text = r.body.toString();
      expect(text).toContain('sidecar_requests_total{decision="passthrough",code="allowed",status="200"} 2');
      expect(text).toContain('sidecar_requests_total{decision="passthrough",code="allowed",status="404"} 1');
      expect(text).toMatch(/sidecar_request_duration_seconds_count\{decision="passthrough"\} 3/);
      expect(text).toContain('# TYPE sidecar_upstream_errors_total counter');
    } finally {
      await s.close();
    }
  });

  it('is a separate listener: the proxy port does not serve /metrics itself', async () => {
    const before = upstream.seen.length;
    await rawRequest(sidecar.proxyUrl, { path: '/metrics' });
    expect(upstream.seen.length).toBe(before + 1); // forwarded to "Jira" like any other path
  });
});
