// Every refusal the proxy listener sends carries Jira's own error fields beside ours (issue 26):
// `errorMessages` (one string: message, code, request id) and `errors` ({} or field -> message),
// whatever stage or layer refuses: the decision stages (401, 403, 429), the sidecar's own API
// (/_sidecar/tokens), and the answers written straight to the socket (431, 400, 417).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, rawSocket } from '../helpers/http.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    credentials: { anonymous: 'deny' },
    access: { readOnlyGroups: ['auditors'] },
    rateLimit: { points: 1, durationSec: 60 },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
});

afterAll(async () => {
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

function expectJiraShape(body: Record<string, unknown>, code: string, requestId: string) {
  expect(body).toMatchObject({ error: code, requestId, errors: expect.any(Object) });
  expect(body.errorMessages).toEqual([`${String(body.message)} (${code}, request ${requestId})`]);
}

const bearer = (u: string, groups: string[]) => `Bearer ${issuer.sign({ aud: 'jira-sidecar', preferred_username: u, groups })}`;

describe("Jira's error fields on every proxy refusal", () => {
  it.each([
    ['401 credential_kind_denied (anonymous)', () => rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself' }), 401, 'credential_kind_denied'],
    ['401 token_invalid', () => rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', 'Bearer jas_x']] }), 401, 'token_invalid'],
    ['403 read_only', () => rawRequest(sc.proxyUrl, { method: 'DELETE', path: '/rest/api/2/issue/A-1', headers: [['Authorization', bearer('ann', ['auditors'])]] }), 403, 'read_only'],
    ['400 path_invalid', () => rawRequest(sc.proxyUrl, { path: '/%73/x/_/rest/api/2/myself' }), 400, 'path_invalid'],
    ['404 on the self-service API', () => rawRequest(sc.proxyUrl, { path: '/_sidecar/tokens/a/b/c', headers: [['Authorization', bearer('bo', [])]] }), 404, 'not_found'],
  ])('%s', async (_, send, status, code) => {
    const r = await send();
    expect(r.status).toBe(status);
    expectJiraShape(JSON.parse(r.body.toString()), code as string, String(r.headers['x-request-id']));
  });

  it('429 keeps Retry-After and the RateLimit fields, and has the Jira fields too', async () => {
    const t = bearer('rita', []);
    await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', t]] });
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', t]] });
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBeDefined();
    expectJiraShape(JSON.parse(r.body.toString()), 'rate_limited', String(r.headers['x-request-id']));
  });

  it('answers written to the socket before Koa (431, 400, 417) carry them as well', async () => {
    const big = await rawSocket(sc.proxyUrl, `GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
    const bad = await rawSocket(sc.proxyUrl, 'GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const expect417 = await rawSocket(sc.proxyUrl, 'GET /rest/api/2/myself HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nConnection: close\r\n\r\n');
    for (const [raw, code] of [[big, 'header_too_large'], [bad, 'bad_request'], [expect417, 'expectation_failed']] as const) {
      const id = /X-Request-Id: (\S+)/i.exec(raw)?.[1] ?? '';
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      expectJiraShape(body, code, id);
    }
  });
});
