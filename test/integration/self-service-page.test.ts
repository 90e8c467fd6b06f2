// The self-service page's HTTP edges without a browser (the browser flow is
// test/browser/self-service-ui.test.ts): where the sign-in goes and which cookie it sets behind a
// trusted or untrusted proxy, Host checks, the JSON API left as it is, and the configuration rules.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { rawRequest } from '../helpers/http.js';
import { validate } from '../../src/config/validate.js';

const RESOURCE = 'https://jira-sidecar.example/api';
let upstream: JiraUpstream;
let idp: http.Server;
let issuerUrl: string;
let sc: TestSidecar;
let off: TestSidecar;

/** Just enough of an OIDC provider for the sign-in to start: its discovery document and empty keys. */
function startDiscovery(): Promise<void> {
  idp = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      res.end(
        JSON.stringify({
          issuer: issuerUrl,
          authorization_endpoint: `${issuerUrl}/auth`,
          token_endpoint: `${issuerUrl}/token`,
          jwks_uri: `${issuerUrl}/jwks`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
        }),
      );
    } else if (req.url === '/jwks') res.end('{"keys":[]}');
    else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  return new Promise((r) => idp.listen(0, '127.0.0.1', r));
}

const selfService = () => ({
  jwt: { issuers: [{ name: 'corp', issuer: issuerUrl, audiences: [RESOURCE], keys: { discovery: issuerUrl } }] },
  apiTokens: { creatorGroups: ['token-makers'] },
  selfService: { enabled: true, issuer: 'corp', clientId: 'page', scopes: ['openid', 'profile', 'jira'], resource: RESOURCE },
  access: { trustedProxies: ['127.0.0.1'] },
});

beforeAll(async () => {
  upstream = await startJiraUpstream();
  await startDiscovery();
  issuerUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  sc = await startTestSidecar(upstream.url, selfService());
  off = await startTestSidecar(upstream.url, { ...selfService(), selfService: { enabled: false } });
});

afterAll(async () => {
  await sc?.close();
  await off?.close();
  await upstream?.close();
  idp?.closeAllConnections();
  await new Promise((r) => idp?.close(r));
});

const get = (base: string, path: string, headers: Array<[string, string]> = []) => rawRequest(base, { path, headers });
const setCookie = (h: http.IncomingHttpHeaders) => (h['set-cookie'] ?? []).join('\n');

describe('self-service page: starting the sign-in', () => {
  it('redirects to the IdP with PKCE S256, state, nonce, scopes and resource; the redirect URI follows the request', async () => {
    const r = await get(sc.proxyUrl, '/_sidecar/tokens/ui');
    expect(r.status).toBe(302);
    const to = new URL(String(r.headers.location));
    expect(`${to.origin}${to.pathname}`).toBe(`${issuerUrl}/auth`);
    const q = Object.fromEntries(to.searchParams);
    expect(q).toMatchObject({ client_id: 'page', response_type: 'code', code_challenge_method: 'S256', scope: 'openid profile jira', resource: RESOURCE });
    expect(q.redirect_uri).toBe(`${sc.proxyUrl}/_sidecar/tokens/callback`);
    expect(q.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(q)).not.toContain('code_verifier');
    const c = setCookie(r.headers);
    expect(c).toMatch(/^sidecar_tokens_login=[A-Za-z0-9_-]{43}; Path=\/_sidecar\/tokens; HttpOnly; SameSite=Lax; Max-Age=600$/);
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('behind a trusted proxy: https from X-Forwarded-Proto, the public host from X-Forwarded-Host, Secure cookies', async () => {
    const r = await get(sc.proxyUrl, '/_sidecar/tokens/ui', [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Host', 'jira-api.example.com']]);
    expect(r.status).toBe(302);
    expect(new URL(String(r.headers.location)).searchParams.get('redirect_uri')).toBe('https://jira-api.example.com/_sidecar/tokens/callback');
    expect(setCookie(r.headers)).toContain('; Secure');
  });

  it('an untrusted peer cannot claim https or another host', async () => {
    const peerTrusted = await startTestSidecar(upstream.url, { ...selfService(), access: { trustedProxies: ['10.0.0.0/8'] } });
    try {
      const r = await get(peerTrusted.proxyUrl, '/_sidecar/tokens/ui', [['X-Forwarded-Proto', 'https'], ['X-Forwarded-Host', 'evil.example']]);
      expect(new URL(String(r.headers.location)).searchParams.get('redirect_uri')).toBe(`${peerTrusted.proxyUrl}/_sidecar/tokens/callback`);
      expect(setCookie(r.headers)).not.toContain('Secure');
    } finally {
      await peerTrusted.close();
    }
  });

  it('refuses a Host header that cannot name the page', async () => {
    const r = await get(sc.proxyUrl, '/_sidecar/tokens/ui', [['Host', 'evil.example/x?y=']]);
    expect(r.status).toBe(400);
  });

  it('a configured redirectUrl wins over the request', async () => {
    const fixed = await startTestSidecar(upstream.url, { ...selfService(), selfService: { ...selfService().selfService, redirectUrl: 'https://tokens.example.com/_sidecar/tokens/callback' } });
    try {
      const r = await get(fixed.proxyUrl, '/_sidecar/tokens/ui');
      expect(new URL(String(r.headers.location)).searchParams.get('redirect_uri')).toBe('https://tokens.example.com/_sidecar/tokens/callback');
      expect(setCookie(r.headers)).toContain('; Secure');
    } finally {
      await fixed.close();
    }
  });

  it('says so in a page when the IdP cannot be reached', async () => {
    const broken = await startTestSidecar(upstream.url, {
      ...selfService(),
      jwt: { issuers: [{ name: 'corp', issuer: 'http://127.0.0.1:9/', audiences: [RESOURCE], keys: { discovery: 'http://127.0.0.1:9/' } }] },
    });
    try {
      const r = await get(broken.proxyUrl, '/_sidecar/tokens/ui');
      expect(r.status).toBe(502);
      expect(r.headers['content-type']).toContain('text/html');
      expect(r.body.toString()).toContain('Sign-in is unavailable');
    } finally {
      await broken.close();
    }
  });
});

describe('self-service page: its files and the JSON API', () => {
  it('serves the script and stylesheet with the page headers, and no inline script anywhere', async () => {
    for (const [file, type] of [
      ['app.js', 'text/javascript'],
      ['app.css', 'text/css'],
    ] as const) {
      const r = await get(sc.proxyUrl, `/_sidecar/tokens/ui/${file}`);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toContain(type);
      expect(r.headers['content-security-policy']).toContain("default-src 'none'");
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
    const out = await get(sc.proxyUrl, '/_sidecar/tokens/ui/signed-out');
    expect(out.status).toBe(200);
    expect(out.body.toString()).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(out.headers['x-frame-options']).toBe('DENY');
  });

  it('a browser opening /_sidecar/tokens is sent to the page; API callers get the API as before', async () => {
    const browser = await get(sc.proxyUrl, '/_sidecar/tokens', [['Accept', 'text/html,application/xhtml+xml']]);
    expect(browser.status).toBe(303);
    expect(browser.headers.location).toBe('/_sidecar/tokens/ui');
    const api = await get(sc.proxyUrl, '/_sidecar/tokens', [['Accept', 'application/json']]);
    expect(api.status).toBe(401);
    expect(JSON.parse(api.body.toString()).error).toBe('credential_missing');
    // A Bearer always goes to the API, cookie or not (here a forged one: the API's own refusal).
    const bearer = await get(sc.proxyUrl, '/_sidecar/tokens', [['Authorization', 'Bearer x.y.z'], ['Cookie', 'sidecar_tokens_session=abc'], ['Accept', 'text/html']]);
    expect(bearer.status).toBe(401);
    expect(JSON.parse(bearer.body.toString()).error).not.toBe('csrf_invalid');
  });

  it('a page call without a session is refused (and audited), whatever it carries', async () => {
    const r = await get(sc.proxyUrl, '/_sidecar/tokens', [['Cookie', 'sidecar_tokens_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'], ['X-CSRF-Token', 'guess']]);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body.toString())).toMatchObject({ error: 'credential_missing' });
    const callback = await get(sc.proxyUrl, '/_sidecar/tokens/callback?code=x&state=unknown');
    expect(callback.status).toBe(400);
    expect(callback.body.toString()).toContain('no longer valid');
    const idpError = await get(sc.proxyUrl, '/_sidecar/tokens/callback?error=access_denied&error_description=%3Cb%3Enope%3C%2Fb%3E');
    expect(idpError.status).toBe(400);
    expect(idpError.body.toString()).toContain('access_denied: &lt;b&gt;nope&lt;/b&gt;');
  });

  it('is not there when selfService is disabled', async () => {
    expect((await get(off.proxyUrl, '/_sidecar/tokens/ui')).status).toBe(404);
    expect((await get(off.proxyUrl, '/_sidecar/tokens/callback?code=x&state=y')).status).toBe(404);
    const api = await get(off.proxyUrl, '/_sidecar/tokens', [['Accept', 'text/html']]);
    expect(api.status).toBe(401); // no redirect: the API as it always was
  });
});

describe('selfService settings', () => {
  const base = (s: Record<string, unknown>, issuer = 'https://login.example.com/realm') => ({
    jwt: { issuers: [{ name: 'corp', issuer, audiences: ['x'], keys: { jwksUri: 'https://login.example.com/keys' } }] },
    selfService: { enabled: true, issuer: 'corp', clientId: 'page', ...s },
  });
  const issues = (input: unknown) => {
    const v = validate(input);
    return v.ok ? [] : v.issues;
  };

  it('accepts a complete section, masks nothing it should not, and defaults to off', () => {
    expect(issues(base({}))).toEqual([]);
    const v = validate({});
    expect(v.ok && v.config.selfService).toEqual({ enabled: false, scopes: ['openid', 'profile'], sessionTtlSec: 3600 });
  });

  it('needs an issuer naming a configured jwt.issuers entry, and a client id', () => {
    expect(issues({ selfService: { enabled: true } }).map((i) => i.path)).toEqual(['selfService.issuer', 'selfService.clientId']);
    expect(issues(base({ issuer: 'corpp' }))).toEqual([{ path: 'selfService.issuer', message: 'no jwt.issuers[] entry is named "corpp" (configured: corp)' }]);
  });

  it('needs one provider reached over https (http on loopback only)', () => {
    expect(issues(base({}, 'https://login.example.com/{tenantid}/v2.0')).some((i) => i.path === 'selfService.issuer')).toBe(true);
    expect(issues(base({}, 'http://login.example.com/realm'))[0]?.message).toContain('https');
    expect(issues(base({}, 'http://127.0.0.1:8080/realm'))).toEqual([]);
  });

  it('checks the redirect URL and the resource indicator', () => {
    expect(issues(base({ redirectUrl: 'https://x.example/callback' }))[0]?.path).toBe('selfService.redirectUrl');
    expect(issues(base({ redirectUrl: 'https://x.example/_sidecar/tokens/callback' }))).toEqual([]);
    expect(issues(base({ resource: 'not a uri' }))[0]?.path).toBe('selfService.resource');
    expect(issues(base({ resource: 'https://api.example/x#frag' }))[0]?.path).toBe('selfService.resource');
  });
});
