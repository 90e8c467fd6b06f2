// The stale keep-alive retry (RFC 9112 §9.3.1) with each identity mode. Jira closes an idle
// connection just as the sidecar reuses it; an idempotent request is sent once more on a fresh
// connection. With oauth1-impersonation that second attempt must carry a fresh nonce and timestamp:
// a provider refuses a nonce it saw before (RFC 5849 §3.3), and this one saw the first attempt.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth1Verifier } from '../helpers/oauth1-verifier.js';
import { startIdentitySidecar, testToken, type IdentitySidecar, type TestCaller } from '../helpers/identity.js';
import { formRequest, json, rawRequest } from '../helpers/http.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const CONSUMER = 'jira-auth-sidecar';
const PAT = `NjQ0MDM1NzQ0NjA5${randomBytes(12).toString('hex')}`;

/** One request as the stale Jira received it, and what it did with it. */
interface Attempt {
  conn: number;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The RFC 5849 verifier's verdict (OAuth requests only); checked before the connection is dropped. */
  oauth?: ReturnType<OAuth1Verifier['check']>;
  answered: boolean;
}

/**
 * A Jira-like upstream on raw TCP: answers like the OAuth 1.0a provider of identity-oauth1.test.ts
 * (oauth1 signature verified, Bearer PAT, or the trusted X-Forwarded-User), keeps connections alive,
 * and, when armed, reads the next request that arrives on an already used connection (so the
 * verifier records its nonce) and closes that connection without answering.
 */
async function startStaleJira(publicPem: string) {
  const attempts: Attempt[] = [];
  const state = { armed: false };
  let conns = 0;
  let verifier!: OAuth1Verifier;
  const server = net.createServer((sock) => {
    const conn = ++conns;
    let served = 0;
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [line, ...fields] = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const f of fields) headers[f.slice(0, f.indexOf(':')).trim().toLowerCase()] = f.slice(f.indexOf(':') + 1).trim();
        const len = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len);
        buf = buf.subarray(end + 4 + len);
        const [method, url] = line!.split(' ') as [string, string];
        const a: Attempt = { conn, method, url, headers, body: body.toString('utf8'), answered: false };
        attempts.push(a);
        const auth = headers.authorization;
        if (auth?.startsWith('OAuth ')) a.oauth = verifier.check({ method, url, authorization: auth, contentType: headers['content-type'], body });
        if (state.armed && served > 0) {
          state.armed = false;
          sock.destroy();
          return;
        }
        served++;
        a.answered = true;
        let status = 200;
        let user: string | undefined;
        const extra: string[] = [];
        if (a.oauth) {
          if (a.oauth.ok) user = a.oauth.user;
          else {
            status = 401;
            extra.push(`WWW-Authenticate: OAuth realm="jira", oauth_problem="${a.oauth.problem}"`);
          }
        } else if (auth?.startsWith('Bearer ')) {
          if (auth.slice(7) === PAT) user = 'svc-integration';
          else status = 401;
        } else user = headers['x-forwarded-user'];
        const payload = JSON.stringify(status === 200 ? { user: user ?? null, method, body: a.body } : { errorMessages: ['not authenticated'] });
        sock.write(
          [`HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Unauthorized'}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`, 'Connection: keep-alive', ...extra, '', payload].join('\r\n'),
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  verifier = new OAuth1Verifier({ consumerKey: CONSUMER, publicKeyPem: publicPem, baseUrl: url });
  return {
    url,
    attempts,
    /** The next request that reuses a connection finds it closed. */
    arm: () => void (state.armed = true),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const issuerKey = publicKeyPem; // the test jwt verifier accepts the token; the issuer's key is never used
const config = {
  jwt: {
    issuers: [
      { name: 'entra', issuer: 'https://login.example.test/v2.0', audiences: ['api://jira-sidecar'], keys: { publicKeyPem: issuerKey }, clients: { allow: ['app-svc'], jiraAccounts: { 'app-svc': 'svc-integration' } } },
      { name: 'plain', issuer: 'https://plain.example.test/', audiences: ['api://jira-sidecar'], keys: { publicKeyPem: issuerKey } },
    ],
  },
  upstream: {
    identity: {
      mode: 'oauth1-impersonation',
      oauth1: { consumerKey: CONSUMER, privateKeyPem },
      issuers: { plain: 'header' },
      clients: { 'app-svc': 'credential-map' },
      credentialMap: { fallback: 'deny' },
    },
  },
};

const bearer = (c: TestCaller): [string, string] => ['Authorization', `Bearer ${testToken(c)}`];
const alice = bearer({ username: 'alice', issuer: 'entra' });
const nonceOf = (a: Attempt) => /oauth_nonce="([^"]+)"/.exec(a.headers.authorization ?? '')?.[1];
const timestampOf = (a: Attempt) => /oauth_timestamp="([^"]+)"/.exec(a.headers.authorization ?? '')?.[1];

let jira: Awaited<ReturnType<typeof startStaleJira>>;
let sc: IdentitySidecar;
const envBefore = { ...process.env };

beforeAll(async () => {
  jira = await startStaleJira(publicKeyPem);
  delete process.env.SIDECAR_SECRET_KEY_FILE;
  delete process.env.SIDECAR_SECRET_KEY_PREVIOUS;
  process.env.SIDECAR_SECRET_KEY = randomBytes(32).toString('base64');
  sc = await startIdentitySidecar(jira.url, config);
  await sc.runtime.deps.services.credentialMap!.set({ subjectType: 'client', subject: 'app-svc', secret: PAT, createdBy: 'test' });
});
afterAll(async () => {
  process.env = envBefore;
  await sc?.close();
  if (sc) rmSync(sc.dataDir, { recursive: true, force: true });
  await jira?.close();
});

/**
 * One answered request first, so the pool holds a used keep-alive connection; then `send` on it
 * with the upstream armed. Returns the response and the upstream attempts `send` made.
 */
async function onStaleConnection(send: () => ReturnType<typeof rawRequest>) {
  const warm = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/serverInfo', headers: [alice] });
  expect(warm.status, warm.body.toString()).toBe(200);
  const from = jira.attempts.length;
  jira.arm();
  const r = await send();
  return { r, attempts: jira.attempts.slice(from) };
}

describe('stale keep-alive retry with oauth1-impersonation', () => {
  it.each([
    ['GET', '/rest/api/2/search?jql=project%3DDEMO', undefined],
    // A form body is read to be signed (its parameters are in the base string): the retry re-signs it.
    ['PUT', '/rest/api/2/issue/DEMO-1?notify=false', 'summary=Hello+world&labels=a'],
  ])('a %s is signed again with a fresh nonce and timestamp; Jira accepts both attempts', async (method, path, body) => {
    const { r, attempts } = await onStaleConnection(() => rawRequest(sc.proxyUrl, body ? formRequest(method, path, [alice], body) : { method, path, headers: [alice] }));
    expect(r.status, r.body.toString()).toBe(200);
    expect(json(r)).toMatchObject({ user: 'alice', method, body: body ?? '' });
    expect(attempts).toHaveLength(2);
    const [first, second] = attempts as [Attempt, Attempt];
    expect(first.answered).toBe(false);
    expect(second.answered).toBe(true);
    expect(second.conn).not.toBe(first.conn);
    // Both signatures are valid for the same request; only the per-attempt parameters differ.
    expect(first.oauth).toEqual({ ok: true, user: 'alice' });
    expect(second.oauth).toEqual({ ok: true, user: 'alice' });
    expect(nonceOf(first)).toBeDefined();
    expect(nonceOf(second)).not.toBe(nonceOf(first));
    expect(Number(timestampOf(second))).toBeGreaterThanOrEqual(Number(timestampOf(first)));
    expect(second.url).toBe(first.url);
    expect(second.body).toBe(first.body);
    expect(second.headers['content-length']).toBe(first.headers['content-length']);
    expect(second.headers['x-request-id']).toBe(first.headers['x-request-id']);
    // One Authorization per attempt: the fresh one replaced the used one, it was not added to it.
    expect(second.headers.authorization!.match(/oauth_signature=/g)).toHaveLength(1);
  });

  it('a POST is still never sent twice, though its signed form body is held: 502, Jira saw it once', async () => {
    const body = 'summary=once';
    const { r, attempts } = await onStaleConnection(() => rawRequest(sc.proxyUrl, formRequest('POST', '/rest/api/2/issue', [alice], body)));
    expect(r.status).toBe(502);
    expect(json(r).error).toBe('upstream_unreachable');
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ method: 'POST', answered: false, oauth: { ok: true, user: 'alice' } });
  });

  it('counts the retry as a stale connection', async () => {
    const metrics = await (await fetch(`${sc.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/sidecar_upstream_errors_total\{kind="stale_connection"\} [1-9]/);
    expect(metrics).not.toContain('kind="identity_rejected"');
  });
});

describe('stale keep-alive retry with the other identity modes (headers sent again as they were)', () => {
  it('header mode: the identity header rides on both attempts', async () => {
    const { r, attempts } = await onStaleConnection(() => rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [bearer({ username: 'carol', issuer: 'plain' })] }));
    expect(r.status, r.body.toString()).toBe(200);
    expect(json(r).user).toBe('carol');
    expect(attempts.map((a) => [a.answered, a.headers['x-forwarded-user'], a.headers.authorization])).toEqual([
      [false, 'carol', undefined],
      [true, 'carol', undefined],
    ]);
  });

  it('credential-map: the mapped PAT rides on both attempts', async () => {
    const svc = bearer({ username: 'svc-integration', issuer: 'entra', clientId: 'app-svc', isServicePrincipal: true });
    const { r, attempts } = await onStaleConnection(() => rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [svc] }));
    expect(r.status, r.body.toString()).toBe(200);
    expect(json(r).user).toBe('svc-integration');
    expect(attempts.map((a) => [a.answered, a.headers.authorization])).toEqual([
      [false, `Bearer ${PAT}`],
      [true, `Bearer ${PAT}`],
    ]);
  });
});
