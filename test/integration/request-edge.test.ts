// Issue 23 (2, 4): the request-parsing edge, from a raw socket as an attacker writes it. Each case
// gets a clear answer with a stable code, and nothing reaches Jira that the sidecar did not judge.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { rawSocket, until } from '../helpers/http.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sidecar: TestSidecar;
let bearer: string;
const BASIC = 'Authorization: Basic YWRtaW46YWRtaW4=';

beforeAll(async () => {
  upstream = await startJiraUpstream({ maxHeaderBytes: 65536 });
  issuer = await startTestIssuer();
  sidecar = await startTestSidecar(upstream.url, {
    credentials: { basic: 'deny', jiraPat: 'deny' },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
  bearer = `Authorization: Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: 'id-alice', preferred_username: 'alice', groups: ['jira-users'] })}`;
});
afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
  await issuer?.close();
});

/** The status line and JSON body of the first answer in a raw response text. */
function first(answer: string): { status: number; error?: string; head: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  const headEnd = answer.indexOf('\r\n\r\n');
  const head = answer.slice(0, headEnd);
  const rest = answer.slice(headEnd + 4);
  let error: string | undefined;
  try {
    error = (JSON.parse(rest.slice(0, Number(/content-length: (\d+)/i.exec(head)?.[1] ?? rest.length))) as { error?: string }).error;
  } catch {
    error = undefined;
  }
  return { status, error, head };
}

/** A socket conversation: write, then wait for what the server says so far. */
function converse(baseUrl: string) {
  const u = new URL(baseUrl);
  const s = net.connect(Number(u.port), u.hostname);
  let text = '';
  let closed = false;
  s.on('data', (c: Buffer) => (text += c.toString('latin1')));
  s.on('close', () => (closed = true));
  s.on('error', () => {});
  return {
    write: (b: string) => s.write(b),
    text: () => text,
    closed: () => closed,
    waitFor: (re: RegExp, what: string) => until(() => re.test(text) || closed, what),
    end: () => s.destroy(),
  };
}

const seenSince = (n: number) => upstream.seen.slice(n);

describe('malformed bodies', () => {
  it('a malformed chunk size (0x2) on a valid request gets 400 bad_request, not a silent close, and Jira gets nothing', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, 'POST /rest/test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n');
    expect(first(answer)).toMatchObject({ status: 400, error: 'bad_request' });
    expect(seenSince(before)).toEqual([]);
  });

  it('Transfer-Encoding with Content-Length (request smuggling) is 400 bad_request', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, 'POST /rest/test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(first(answer)).toMatchObject({ status: 400, error: 'bad_request' });
    expect(seenSince(before)).toEqual([]);
  });
});

describe('header count', () => {
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');

  it('100 fields (Host included) pass', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, `GET /rest/test/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${fields(98)}\r\n`);
    expect(first(answer).status).toBe(200);
    expect(seenSince(before)).toHaveLength(1);
  });

  it('101 fields are 431 too_many_headers', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, `GET /rest/test/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${fields(99)}\r\n`);
    expect(first(answer)).toMatchObject({ status: 431, error: 'too_many_headers' });
    expect(seenSince(before)).toEqual([]);
  });

  it("2,100 fields with a Basic credential past node's 2,000th are refused, not judged without it", async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, `GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\n${fields(2100)}${BASIC}\r\nConnection: close\r\n\r\n`);
    expect(first(answer)).toMatchObject({ status: 431, error: 'too_many_headers' });
    expect(seenSince(before)).toEqual([]);
  });
});

describe('heads between 16 KiB (node and Jira-like defaults) and server.maxHeaderBytes (64 KiB)', () => {
  const big = `X-Big: ${'a'.repeat(20_000)}\r\n`;

  it('a denied credential in a 20 KiB head is judged: 401 credential_kind_denied, nothing forwarded', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, `GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\n${big}${BASIC}\r\nConnection: close\r\n\r\n`);
    expect(first(answer)).toMatchObject({ status: 401, error: 'credential_kind_denied' });
    expect(seenSince(before)).toEqual([]);
  });

  it('a valid JWT in a 20 KiB head is verified and forwarded as its user, without the token', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, `GET /rest/test/echo HTTP/1.1\r\nHost: x\r\n${big}${bearer}\r\nConnection: close\r\n\r\n`);
    expect(first(answer).status).toBe(200);
    const seen = seenSince(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-forwarded-user']).toBe('alice');
    expect(seen[0]!.headers.authorization).toBeUndefined();
  });
});

describe('Expect: 100-continue is judged before the body is invited', () => {
  const head = (auth: string) => `POST /rest/test/echo HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n`;
  const refused: Array<[string, () => string, number, string]> = [
    ['Basic (denied)', () => `${BASIC}\r\n`, 401, 'credential_kind_denied'],
    ['a Jira PAT (denied)', () => 'Authorization: Bearer NjM0NDc4NTQzNDU2OmFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eA==\r\n', 401, 'credential_kind_denied'],
    ['a forged JWT', () => `${bearer.slice(0, -4)}AAAA\r\n`, 401, 'token_invalid'],
    ['an unknown API token', () => 'Authorization: Bearer jas_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n', 401, 'token_invalid'],
  ];
  for (const [name, auth, status, code] of refused) {
    it(`${name}: the final ${status} comes without a 100, Jira gets nothing`, async () => {
      const before = upstream.seen.length;
      const c = converse(sidecar.proxyUrl);
      c.write(head(auth()));
      await c.waitFor(/\r\n\r\n\{.*\}/s, 'the refusal');
      expect(c.text()).not.toMatch(/100 Continue/);
      const f = first(c.text());
      expect([f.status, f.error]).toEqual([status, code]);
      expect(f.error).toBeDefined();
      // the body was never read, so the connection is not reused for it
      expect(f.head).toMatch(/\r\nConnection: close/i);
      c.end();
      expect(seenSince(before)).toEqual([]);
    });
  }

  for (const [name, auth, user] of [
    ['a valid JWT', () => `${bearer}\r\n`, 'alice'],
    ['anonymous (passthrough)', () => '', undefined],
  ] as const) {
    it(`${name}: 100 Continue once judged, then the body reaches Jira`, async () => {
      const before = upstream.seen.length;
      const c = converse(sidecar.proxyUrl);
      c.write(head(auth()));
      await c.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '100 Continue');
      expect(seenSince(before)).toEqual([]);
      c.write('{}');
      await until(() => seenSince(before).length > 0 && /HTTP\/1\.1 200 OK/.test(c.text()), 'the answer');
      c.end();
      const seen = seenSince(before);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.headers['x-forwarded-user']).toBe(user);
      expect(seen[0]!.headers.expect).toBeUndefined();
      expect(seen[0]!.bodyBytes).toBe(2);
    });
  }

  it('another expectation is 417 expectation_failed, and Jira gets nothing', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, 'POST /rest/test/echo HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Length: 2\r\n\r\nab');
    expect(first(answer)).toMatchObject({ status: 417, error: 'expectation_failed' });
    expect(seenSince(before)).toEqual([]);
  });
});

describe('pipelining, upgrades, tunnels', () => {
  it('pipelined requests are judged one by one: the denied one in the middle never reaches Jira', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(
      sidecar.proxyUrl,
      'GET /rest/test/echo/1 HTTP/1.1\r\nHost: x\r\n\r\n' +
        `GET /rest/api/2/user?username=admin HTTP/1.1\r\nHost: x\r\n${BASIC}\r\n\r\n` +
        'GET /rest/test/echo/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect([...answer.matchAll(/HTTP\/1\.1 (\d{3}) [A-Z]/g)].map((m) => m[1])).toEqual(['200', '401', '200']);
    expect(answer).toContain('"error":"credential_kind_denied"');
    expect(seenSince(before).map((s) => s.url)).toEqual(['/rest/test/echo/1', '/rest/test/echo/3']);
  });

  for (const [name, headers] of [
    ['h2c', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n'],
    ['websocket', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'],
  ] as const) {
    it(`Upgrade: ${name} is ignored (RFC 9110 §7.8): judged and forwarded as HTTP/1.1 without the upgrade`, async () => {
      const before = upstream.seen.length;
      const c = converse(sidecar.proxyUrl);
      c.write(`GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\n${headers}${BASIC}\r\n\r\n`);
      await c.waitFor(/\r\n\r\n\{.*\}/s, 'the refusal');
      c.end();
      expect(first(c.text())).toMatchObject({ status: 401, error: 'credential_kind_denied' });
      expect(seenSince(before)).toEqual([]);
      const ok = await rawSocket(sidecar.proxyUrl, `GET /rest/test/echo HTTP/1.1\r\nHost: x\r\n${headers}${bearer}\r\nConnection: close\r\n\r\n`);
      expect(first(ok).status).toBe(200);
      const seen = seenSince(before);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.headers.upgrade).toBeUndefined();
      expect(seen[0]!.headers['x-forwarded-user']).toBe('alice');
    });
  }

  it('an HTTP/2 prior-knowledge preface is 400 bad_request', async () => {
    const answer = await rawSocket(sidecar.proxyUrl, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(first(answer)).toMatchObject({ status: 400, error: 'bad_request' });
  });

  it('CONNECT is 405 method_not_allowed, not a silent close', async () => {
    const before = upstream.seen.length;
    const answer = await rawSocket(sidecar.proxyUrl, 'CONNECT jira.example:443 HTTP/1.1\r\nHost: jira.example:443\r\n\r\n');
    expect(first(answer)).toMatchObject({ status: 405, error: 'method_not_allowed' });
    expect(seenSince(before)).toEqual([]);
  });
});
