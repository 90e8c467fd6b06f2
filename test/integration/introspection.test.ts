// Opaque bearer tokens through RFC 7662 introspection against a real endpoint: the three client
// authentication methods, active:false, caching, and an endpoint that is slow, down or answers garbage.
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { rawRequest, type RawResponse } from '../helpers/http.js';
import { nowSec, selfSignedCert, startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

let upstream: JiraUpstream;
let idp: TokenIssuer;
const sidecars: TestSidecar[] = [];
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
let certificatePem: string;

const bodyOf = (r: RawResponse) => JSON.parse(r.body.toString()) as Record<string, any>;
const outcome = (r: RawResponse) => (r.status === 200 ? `200 ${bodyOf(r).headers['x-forwarded-user']}` : `${r.status} ${bodyOf(r).error}`);
const call = (s: TestSidecar, token: string, extra: Array<[string, string]> = []) =>
  rawRequest(s.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`], ...extra] });

async function sidecarWith(introspection: Record<string, unknown>): Promise<TestSidecar> {
  const s = await startTestSidecar(upstream.url, {
    introspection: { enabled: true, endpoint: idp.introspectionUrl, timeoutMs: 500, cacheSec: 60, negativeCacheSec: 30, ...introspection },
  });
  sidecars.push(s);
  return s;
}

beforeAll(async () => {
  upstream = await startJiraUpstream();
  idp = await startTestIssuer();
  certificatePem = selfSignedCert(privateKey, 'sidecar-introspection-client');
  idp.clients.set('sidecar-basic', { secret: 'b@sic secret' });
  idp.clients.set('sidecar-post', { secret: 'post-secret' });
  idp.clients.set('sidecar-pkjwt', { certificatePem });
});

afterAll(async () => {
  for (const s of sidecars) await s.close();
  await Promise.all([upstream?.close(), idp?.close()]);
});

describe('client_secret_basic', () => {
  let s: TestSidecar;
  beforeAll(async () => {
    s = await sidecarWith({ clientId: 'sidecar-basic', clientSecret: 'b@sic secret', clientAuth: 'client_secret_basic' });
  });

  it('an active token is forwarded as its user; Authorization and session cookies are replaced', async () => {
    const t = idp.issueOpaque({ username: 'alice', groups: ['jira-users'], client_id: 'cli', exp: nowSec() + 600 });
    const r = await call(s, t, [['Cookie', 'JSESSIONID=x; keep=1']]);
    expect(outcome(r)).toBe('200 alice');
    expect(bodyOf(r).headers.authorization).toBeUndefined();
    expect(bodyOf(r).headers.cookie).toBe('keep=1');
    expect(idp.introspections.at(-1)).toMatchObject({ clientAuth: 'client_secret_basic', clientId: 'sidecar-basic', ok: true });
  });

  it('caches a positive answer (no second introspection)', async () => {
    const t = idp.issueOpaque({ username: 'bob', exp: nowSec() + 600 });
    expect(outcome(await call(s, t))).toBe('200 bob');
    const n = idp.introspections.length;
    expect(outcome(await call(s, t))).toBe('200 bob');
    expect(idp.introspections.length).toBe(n);
  });

  it('active with a future nbf is 401 token_invalid, twice, and never forwarded (RFC 7662 §2.2)', async () => {
    const before = upstream.seen.length;
    const t = idp.issueOpaque({ username: 'mallory', nbf: nowSec() + 3600, exp: nowSec() + 7200 });
    expect(outcome(await call(s, t))).toBe('401 token_invalid');
    expect(outcome(await call(s, t))).toBe('401 token_invalid');
    expect(upstream.seen.length).toBe(before);
  });

  it('active:false is 401 token_inactive, cached briefly, never forwarded', async () => {
    const before = upstream.seen.length;
    expect(outcome(await call(s, 'f'.repeat(40)))).toBe('401 token_inactive');
    const n = idp.introspections.length;
    expect(outcome(await call(s, 'f'.repeat(40)))).toBe('401 token_inactive');
    expect(idp.introspections.length).toBe(n);
    expect(upstream.seen.length).toBe(before);
  });

  it('a revoked token is inactive', async () => {
    const t = idp.issueOpaque({ username: 'carol' });
    idp.revoke(t);
    expect(outcome(await call(s, t))).toBe('401 token_inactive');
  });

  it('an active answer with exp in the past is refused as expired', async () => {
    expect(outcome(await call(s, idp.issueOpaque({ username: 'dave', exp: nowSec() - 5 })))).toBe('401 token_expired');
  });

  it('an active answer without a username is refused', async () => {
    expect(outcome(await call(s, idp.issueOpaque({ sub: 'x' })))).toBe('401 username_missing');
  });

  it.each([
    ['down (HTTP 503)', 'down'],
    ['slow (no answer within timeoutMs)', 'slow'],
    ['garbage (not JSON)', 'garbage'],
    ['hanging', 'hang'],
  ] as const)('endpoint %s -> 503 auth_unavailable, nothing forwarded', async (_n, mode) => {
    const t = idp.issueOpaque({ username: 'erin' });
    const before = upstream.seen.length;
    idp.introspectionMode = mode;
    idp.slowMs = 5000;
    try {
      const r = await call(s, t);
      expect(outcome(r)).toBe('503 auth_unavailable');
    } finally {
      idp.introspectionMode = 'up';
    }
    expect(upstream.seen.length).toBe(before);
    // failures are not cached: the same token works once the endpoint is back
    expect(outcome(await call(s, t))).toBe('200 erin');
  });
});

describe('an endpoint that redirects', () => {
  it('is never followed: 503 auth_unavailable, and the place it points to (which would say active) is never asked', async () => {
    let asked = 0;
    const elsewhere = createServer((req, res) => {
      asked++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ active: true, username: 'admin' }));
    });
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
    const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/introspect`;
    const redirector = createServer((req, res) => {
      req.resume();
      res.writeHead(307, { location: target }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    try {
      const s = await sidecarWith({ endpoint: `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/introspect`, clientId: 'sidecar-basic', clientSecret: 'b@sic secret' });
      const before = upstream.seen.length;
      const r = await call(s, 'an-opaque-token-of-someone');
      expect(outcome(r)).toBe('503 auth_unavailable');
      expect(upstream.seen.length).toBe(before);
      expect(asked).toBe(0);
    } finally {
      elsewhere.close();
      redirector.close();
    }
  });
});

describe('client_secret_post', () => {
  it('sends client_id and client_secret in the body', async () => {
    const s = await sidecarWith({ clientId: 'sidecar-post', clientSecret: 'post-secret', clientAuth: 'client_secret_post' });
    expect(outcome(await call(s, idp.issueOpaque({ username: 'alice' })))).toBe('200 alice');
    expect(idp.introspections.at(-1)).toMatchObject({ clientAuth: 'client_secret_post', clientId: 'sidecar-post', ok: true });
  });

  it('a wrong client secret (IdP answers 401) is 503, never an allow', async () => {
    const s = await sidecarWith({ clientId: 'sidecar-post', clientSecret: 'wrong', clientAuth: 'client_secret_post' });
    expect(outcome(await call(s, idp.issueOpaque({ username: 'alice' })))).toBe('503 auth_unavailable');
  });
});

describe('private_key_jwt', () => {
  it('signs a client assertion with the key and names the certificate by x5t', async () => {
    const s = await sidecarWith({ clientId: 'sidecar-pkjwt', clientAuth: 'private_key_jwt', privateKeyPem, certificatePem });
    expect(outcome(await call(s, idp.issueOpaque({ username: 'alice' })))).toBe('200 alice');
    const rec = idp.introspections.at(-1)!;
    expect(rec).toMatchObject({ clientAuth: 'private_key_jwt', clientId: 'sidecar-pkjwt', ok: true });
    const der = new X509Certificate(certificatePem).raw;
    expect(rec.assertionHeader).toMatchObject({ alg: 'RS256', x5t: createHash('sha1').update(der).digest('base64url') });
  });
});
