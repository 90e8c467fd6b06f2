// The proxy listener runs the stages on its own lean context for every request the /_sidecar/
// routes cannot be for, and through Koa for the others (http/proxy-app.ts). The two must answer
// alike: the same refusal reaches the client with the same status, headers and body whichever ran
// it. An absolute-form target (RFC 9112 §3.2.2) goes through Koa, its origin-form twin does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { rawSocket } from '../helpers/http.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sidecar: TestSidecar;
let token: string;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sidecar = await startTestSidecar(upstream.url, {
    credentials: { basic: 'deny', jiraPat: 'deny', anonymous: 'deny' },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
    access: { readOnlyGroups: ['readers'] },
  });
  token = issuer.sign({ aud: 'jira-sidecar', sub: 'id-rita', preferred_username: 'rita', groups: ['jira-users', 'readers'] });
});
afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
  await issuer?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request on a fresh connection, read back as the bytes say (head fields lower-cased). */
async function send(method: string, target: string, headers: string[] = [], body = ''): Promise<Answer> {
  const extra = body ? [`Content-Length: ${Buffer.byteLength(body)}`, 'Content-Type: application/json'] : [];
  const text = await rawSocket(sidecar.proxyUrl, `${method} ${target} HTTP/1.1\r\nHost: jira.example\r\nConnection: close\r\n${[...headers, ...extra].map((h) => `${h}\r\n`).join('')}\r\n${body}`);
  const headEnd = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
  const fields: Record<string, string> = {};
  for (const l of lines) fields[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  return { status: Number(statusLine!.split(' ')[1]), headers: fields, body: text.slice(headEnd + 4) };
}

/** What must agree: everything but the date, the request id and the rate limit left (which differ per request). */
function comparable(a: Answer) {
  const id = a.headers['x-request-id']!;
  const { date: _date, 'x-request-id': _id, 'ratelimit-remaining': _left, ...headers } = a.headers;
  return { status: a.status, headers, body: a.body.split(id).join('<id>') };
}

const ORIGIN = '/rest/api/2/issue/TEST-1';
const ABSOLUTE = `http://jira.example${ORIGIN}`;

describe('lean context and Koa answer alike', () => {
  const cases: Array<[string, () => [string, string[], string?]]> = [
    ['no credential: 401', () => ['GET', []]],
    ['a forged token: 401', () => ['GET', [`Authorization: Bearer ${token.slice(0, -4)}AAAA`]]],
    ['Basic denied: 401', () => ['GET', ['Authorization: Basic YWxpY2U6cHc=']]],
    ['read-only group writing: 403', () => ['PUT', [`Authorization: Bearer ${token}`], '{"fields":{}}']],
    ['a HEAD refusal: head only, with the JSON length', () => ['HEAD', []]],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      const [method, headers, body] = make();
      const lean = await send(method, ORIGIN, headers, body);
      const koa = await send(method, ABSOLUTE, headers, body);
      expect(lean.status).toBeGreaterThanOrEqual(400);
      expect(lean.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(lean.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(comparable(lean)).toEqual(comparable(koa));
      if (method === 'HEAD') {
        expect(lean.body).toBe('');
        expect(Number(lean.headers['content-length'])).toBeGreaterThan(20);
      } else {
        expect(Buffer.byteLength(lean.body)).toBe(Number(lean.headers['content-length']));
        expect(JSON.parse(lean.body)).toMatchObject({ requestId: lean.headers['x-request-id'], errorMessages: [expect.any(String)] });
      }
    });
  }

  it('an allowed request reaches Jira through either and comes back the same', async () => {
    const before = upstream.seen.length;
    const lean = await send('GET', '/rest/api/2/myself', [`Authorization: Bearer ${token}`]);
    const koa = await send('GET', 'http://jira.example/rest/api/2/myself', [`Authorization: Bearer ${token}`]);
    expect(lean.status).toBe(200);
    expect(comparable(lean)).toEqual(comparable(koa));
    expect(upstream.seen.length - before).toBe(2);
  });
});
