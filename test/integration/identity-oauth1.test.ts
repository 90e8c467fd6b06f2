// oauth1-impersonation against a Jira-like OAuth 1.0a provider that verifies RSA-SHA1 signatures
// (test/helpers/oauth1-verifier.ts, written from RFC 5849 independently of the signer).
import { generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { startOAuth1Jira, replay, type OAuth1Jira } from '../helpers/oauth1-verifier.js';
import { startIdentitySidecar, testToken, type IdentitySidecar, type TestCaller } from '../helpers/identity.js';
import { formRequest, json, rawRequest } from '../helpers/http.js';
import { merge } from '../helpers/sidecar.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const CONSUMER = 'jira-auth-sidecar';

const identityConfig = { upstream: { identity: { mode: 'oauth1-impersonation', oauth1: { consumerKey: CONSUMER, privateKeyPem, maxFormBodyBytes: 4096 } } } };

let jira: OAuth1Jira;
let sc: IdentitySidecar;

beforeAll(async () => {
  jira = await startOAuth1Jira({ consumerKey: CONSUMER, publicKeyPem });
  sc = await startIdentitySidecar(jira.url, identityConfig);
});
afterAll(async () => {
  await sc?.close();
  rmSync(sc.dataDir, { recursive: true, force: true });
  await jira?.close();
});

const bearer = (c: TestCaller): [string, string] => ['Authorization', `Bearer ${testToken(c)}`];
const last = () => jira.seen[jira.seen.length - 1]!;
const alice = bearer({ username: 'alice', issuer: 'entra' });

describe('oauth1-impersonation', () => {
  it('signs the request as the checked user; Jira answers as that user', async () => {
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [alice, ['Cookie', 'JSESSIONID=someone-else; other=1']] });
    expect(r.status).toBe(200);
    expect(json(r).name).toBe('alice');
    const rec = last();
    expect(rec.outcome).toEqual({ user: 'alice', via: 'oauth1' });
    expect(rec.headers.authorization).toMatch(/^OAuth /);
    expect(rec.headers.authorization).toContain('oauth_signature_method="RSA-SHA1"');
    expect(rec.url).toBe('/rest/api/2/myself?xoauth_requestor_id=alice');
    expect(rec.headers.cookie).toBe('other=1'); // Jira's session cookie never rides along
    expect(rec.headers['x-forwarded-user']).toBeUndefined();
  });

  it('keeps the client query byte for byte and drops a client-chosen requestor id and oauth_* parameters', async () => {
    const r = await rawRequest(sc.proxyUrl, {
      path: '/rest/test/echo?jql=project%20%3D%20DEMO+AND+x%3D%22%C3%BC%22&xoauth_requestor_id=admin&oauth_token=abc&OAuth_Nonce=1&&flag',
      headers: [alice],
    });
    expect(r.status).toBe(200);
    expect(json(r).user).toBe('alice');
    expect(last().url).toBe('/rest/test/echo?jql=project%20%3D%20DEMO+AND+x%3D%22%C3%BC%22&flag&xoauth_requestor_id=alice');
  });

  it.each([
    ['a username that needs encoding', { username: "o'brien rené+x@corp.example" }, '/rest/api/2/myself'],
    ['a percent-encoded path', { username: 'alice' }, '/rest/test/echo/a%20b/%C3%BC;jsessionid=x'],
    ['an absolute-form request target', { username: 'alice' }, 'http://jira.local/rest/test/echo?q=1'],
  ])('Jira accepts the signature for %s', async (_n, caller, path) => {
    const r = await rawRequest(sc.proxyUrl, { path, headers: [bearer(caller)] });
    expect(r.status, r.body.toString()).toBe(200);
    expect(last().outcome).toEqual({ user: caller.username, via: 'oauth1' });
  });

  it('signs a form body (RFC 5849 §3.4.1.3.1) and forwards it without the reserved parameters', async () => {
    const body = 'summary=Hello+world&emoji=%E2%9C%93&xoauth_requestor_id=admin&empty=';
    const r = await rawRequest(sc.proxyUrl, {
      method: 'POST',
      path: '/rest/test/echo?a=1',
      headers: [alice, ['Content-Type', 'application/x-www-form-urlencoded; charset=UTF-8'], ['Content-Length', String(body.length)]],
      body,
    });
    expect(r.status, r.body.toString()).toBe(200);
    expect(json(r)).toMatchObject({ user: 'alice', body: 'summary=Hello+world&emoji=%E2%9C%93&empty=' });
    expect(last().headers['content-length']).toBe(String('summary=Hello+world&emoji=%E2%9C%93&empty='.length));
  });

  it('signs a chunked form body too', async () => {
    const r = await rawRequest(sc.proxyUrl, { method: 'POST', path: '/rest/test/echo', headers: [alice, ['Content-Type', 'application/x-www-form-urlencoded']], body: 'a=1&b=two' });
    expect(r.status, r.body.toString()).toBe(200);
    expect(json(r)).toMatchObject({ user: 'alice', body: 'a=1&b=two' });
  });

  it('streams other bodies untouched (JSON is not a signed parameter set)', async () => {
    const body = JSON.stringify({ fields: { summary: 'x', xoauth_requestor_id: 'admin' } });
    const r = await rawRequest(sc.proxyUrl, { method: 'POST', path: '/rest/api/2/issue', headers: [alice, ['Content-Type', 'application/json']], body });
    expect(r.status).toBe(200);
    expect(json(r)).toMatchObject({ user: 'alice', body });
  });

  it('refuses a form body over oauth1.maxFormBodyBytes with 413 before Jira sees it', async () => {
    const before = jira.seen.length;
    const body = `x=${'a'.repeat(5000)}`;
    const r = await rawRequest(sc.proxyUrl, formRequest('POST', '/rest/test/echo', [alice], body));
    expect(r.status).toBe(413);
    expect(json(r).error).toBe('body_too_large');
    expect(jira.seen.length).toBe(before);
  });

  it('signs for the owner of a sidecar API token (the real api-token verifier)', async () => {
    const created = await sc.runtime.deps.services.apiTokens!.create({ owner: 'dave', name: 'ci', createdBy: 'test' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${created.token}`]] });
    expect(r.status, r.body.toString()).toBe(200);
    expect(json(r).name).toBe('dave');
    expect(last().outcome).toEqual({ user: 'dave', via: 'oauth1' });
    expect(JSON.stringify(last().headers)).not.toContain(created.token);
  });

  it('leaves passthrough credentials alone (a Jira PAT is not re-signed)', async () => {
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', 'Bearer NjQ0MDM1NzQ0NjA5OqkqH2v4yBv0sI9hLqvJ8Fd0hHc1']] });
    expect(last().headers.authorization).toMatch(/^Bearer /);
    expect(last().url).toBe('/rest/api/2/myself');
    expect(r.status).toBe(401); // Jira's own answer, relayed (the client's credential, the client's problem)
  });
});

describe('the provider refuses what a correct signature does not cover', () => {
  let signedGet: (typeof jira.seen)[number];
  let signedForm: (typeof jira.seen)[number];
  beforeAll(async () => {
    await rawRequest(sc.proxyUrl, { path: '/rest/test/echo?q=1', headers: [alice] });
    signedGet = last();
    await rawRequest(sc.proxyUrl, formRequest('POST', '/rest/test/echo', [alice], 'a=1&b=two'));
    signedForm = last();
    expect(signedGet.outcome).toEqual({ user: 'alice', via: 'oauth1' });
    expect(signedForm.outcome).toEqual({ user: 'alice', via: 'oauth1' });
  });

  it('a replayed nonce', async () => {
    expect(await replay(jira.url, signedGet)).toMatchObject({ status: 401, problem: 'nonce_used' });
  });
  it('a changed path', async () => {
    expect(await replay(jira.url, signedGet, { url: signedGet.url.replace('/echo', '/echo2') })).toMatchObject({ status: 401, problem: 'signature_invalid' });
  });
  it('a changed requestor', async () => {
    expect(await replay(jira.url, signedGet, { url: signedGet.url.replace('xoauth_requestor_id=alice', 'xoauth_requestor_id=admin') })).toMatchObject({ status: 401, problem: 'signature_invalid' });
  });
  it('a second requestor appended', async () => {
    expect(await replay(jira.url, signedGet, { url: `${signedGet.url}&xoauth_requestor_id=admin` })).toMatchObject({ status: 401, problem: 'signature_invalid' });
  });
  it('a changed form body', async () => {
    expect(await replay(jira.url, signedForm, { body: Buffer.from('a=1&b=TWO') })).toMatchObject({ status: 401, problem: 'signature_invalid' });
  });
});

describe('Jira refusing the signature', () => {
  it('a wrong sidecar clock is a 502 upstream_rejected_identity with oauth_problem in the log', async () => {
    const skewed = await startIdentitySidecar(jira.url, identityConfig, { clock: fixedClock(Date.now() + 3600_000) });
    try {
      const before = jira.seen.length;
      const r = await rawRequest(skewed.proxyUrl, { path: '/rest/api/2/myself', headers: [alice] });
      expect(r.status).toBe(502);
      expect(json(r).error).toBe('upstream_rejected_identity');
      expect(json(r).requestId).toBe(r.headers['x-request-id']);
      expect(r.body.toString()).not.toContain('timestamp_refused'); // Jira's reason is for the operator
      expect(jira.seen.length).toBe(before + 1);
      expect(jira.seen[before]!.outcome).toEqual({ problem: 'timestamp_refused' });
      const line = skewed.logs.find((l) => l.includes('upstream_rejected_identity'));
      expect(line).toBeDefined();
      expect(line).toContain('oauth_problem=timestamp_refused');
      expect(line).toContain('X-Seraph-LoginReason: AUTHENTICATION_DENIED');
    } finally {
      await skewed.close();
      rmSync(skewed.dataDir, { recursive: true, force: true });
    }
  });

  it('a key Jira does not hold is a 502 naming signature_invalid in the log', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const wrong = await startIdentitySidecar(jira.url, { upstream: { identity: { mode: 'oauth1-impersonation', oauth1: { consumerKey: CONSUMER, privateKeyPem: other } } } });
    try {
      const r = await rawRequest(wrong.proxyUrl, { path: '/rest/api/2/myself', headers: [alice] });
      expect(r.status).toBe(502);
      expect(json(r).error).toBe('upstream_rejected_identity');
      expect(wrong.logs.some((l) => l.includes('oauth_problem=signature_invalid'))).toBe(true);
    } finally {
      await wrong.close();
      rmSync(wrong.dataDir, { recursive: true, force: true });
    }
  });
});

describe('oauth1.jiraBaseUrl', () => {
  it('signs for the URL Jira sees itself at (behind a TLS proxy), and only that one', async () => {
    const proxied = await startOAuth1Jira({ consumerKey: CONSUMER, publicKeyPem, baseUrl: 'https://jira.example.com' });
    const withBase = await startIdentitySidecar(proxied.url, merge(identityConfig, { upstream: { identity: { oauth1: { jiraBaseUrl: 'https://jira.example.com' } } } }));
    const without = await startIdentitySidecar(proxied.url, identityConfig);
    try {
      const ok = await rawRequest(withBase.proxyUrl, { path: '/rest/api/2/myself', headers: [alice] });
      expect(ok.status, ok.body.toString()).toBe(200);
      expect(json(ok).name).toBe('alice');
      const bad = await rawRequest(without.proxyUrl, { path: '/rest/api/2/myself', headers: [alice] });
      expect(bad.status).toBe(502);
      expect(proxied.seen[proxied.seen.length - 1]!.outcome).toEqual({ problem: 'signature_invalid' });
    } finally {
      for (const s of [withBase, without]) {
        await s.close();
        rmSync(s.dataDir, { recursive: true, force: true });
      }
      await proxied.close();
    }
  });
});
