// The self-service token page (/_sidecar/tokens/ui) in headless Debian Chromium, with panva's
// oidc-provider (v9) as a real IdP: authorization code + PKCE (required), a confidential client, a
// JWT access token for our resource (RFC 8707) carrying the user's groups. The IdP is reached as
// "localhost" and the sidecar as "127.0.0.1", so the sign-in round trip is cross-site as in real life.
// Covers: sign in, the list with usage, create (secret shown once), rotate, revoke, a user outside
// apiTokens.creatorGroups, sign out, CSP and other headers, CSRF, and replayed or foreign callbacks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Provider from 'oidc-provider';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { ROOT, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { launchBrowser } from '../helpers/browser.js';
import { TokenRequests } from '../../src/api-tokens/token-requests.js';

// Browser globals inside page.evaluate callbacks (the test tsconfig has no DOM lib).
declare const navigator: any;

const RESOURCE = 'https://jira-sidecar.example/api';
const CLIENT_ID = 'jira-token-page';
const CLIENT_SECRET = 'page-client-secret-0123456789';
const GROUPS: Record<string, string[]> = { alice: ['jira-users', 'token-makers'], bob: ['jira-users'] };
const SHOTS = path.join(ROOT, 'test-output', 'self-service-ui');

let upstream: JiraUpstream;
let idpServer: http.Server;
let issuerUrl: string;
let sc: TestSidecar;
let ctx: BrowserContext;
let page: Page;
const consoleErrors: string[] = [];
const pageErrors: string[] = [];
const pageResponses: Response[] = [];
const callbackUrls: string[] = [];
/** An error page a test opens on purpose (Chromium logs its status as a console error). */
let expectedStatus: number | undefined;

const shot = (name: string, p: Page = page) => p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
const uiUrl = () => `${sc.proxyUrl}/_sidecar/tokens/ui`;

/** The IdP: devInteractions' login form accepts any login; consent is granted automatically. */
function makeProvider(redirectUri: string): Provider {
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  return new Provider(issuerUrl, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [redirectUri],
      },
    ],
    jwks: { keys: [{ ...signing, kid: 'idp-signing-1', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: ['oidc-provider-test-cookie-key'] },
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub, preferred_username: sub, name: `${sub[0]!.toUpperCase()}${sub.slice(1)} Example` }),
    }),
    // The access token names the Jira user and carries the groups (Entra-style "groups" claim).
    extraTokenClaims: async (_ctx: unknown, token: { kind: string; accountId?: string }) =>
      token.kind === 'AccessToken' && token.accountId ? { preferred_username: token.accountId, groups: GROUPS[token.accountId] ?? [] } : undefined,
    // First-party client: no consent screen.
    loadExistingGrant: async (c: any) => {
      const grantId = c.oidc.result?.consent?.grantId || c.oidc.session.grantIdFor(c.oidc.client.clientId);
      if (grantId) {
        const found = await c.oidc.provider.Grant.find(grantId);
        if (found) return found;
      }
      const grant = new c.oidc.provider.Grant({ clientId: c.oidc.client.clientId, accountId: c.oidc.session.accountId });
      grant.addOIDCScope('openid profile');
      grant.addResourceScope(RESOURCE, 'jira');
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_c: unknown, resourceIndicator: string) => {
          if (resourceIndicator !== RESOURCE) throw new Error('unknown resource');
          return { scope: 'jira', audience: RESOURCE, accessTokenTTL: 900, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
  });
}

/** A Chromium context that reaches nothing but this machine (the IdP's dev pages link a web font). */
async function browser(viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  const c = await launchBrowser(viewport);
  await c.route(
    (u) => !['127.0.0.1', 'localhost'].includes(u.hostname),
    (r) => r.abort(),
  );
  return c;
}

/** `refused`: the page's 403 answer is expected (Chromium logs every 4xx fetch as a console error). */
function watch(p: Page, refused = false): void {
  const ours = (url: string) => url.startsWith(sc.proxyUrl);
  p.on('console', (m) => {
    if (m.type() !== 'error' || !ours(m.location().url || p.url())) return;
    if (refused && /status of 403/.test(m.text())) return;
    if (expectedStatus && m.text().includes(`status of ${expectedStatus}`)) return;
    consoleErrors.push(`${p.url()}: ${m.text()}`);
  });
  p.on('pageerror', (e) => pageErrors.push(e.message));
  p.on('response', (r) => {
    if (ours(r.url())) pageResponses.push(r);
  });
  p.on('request', (r) => {
    if (r.url().includes('/_sidecar/tokens/callback')) callbackUrls.push(r.url());
  });
}

/** Opens the page and signs in at the IdP's login form as `user`. */
async function signIn(p: Page, user: string): Promise<void> {
  await p.goto(uiUrl());
  await p.locator('input[name="login"]').waitFor();
  expect(new URL(p.url()).hostname).toBe('localhost');
  await p.locator('input[name="login"]').fill(user);
  await p.locator('input[name="password"]').fill('any password');
  await p.getByRole('button', { name: 'Sign-in' }).click();
  await p.waitForURL(uiUrl());
}

// Cookies as the browser sends them to the page (their Path is /_sidecar/tokens).
const pageCookies = (c: BrowserContext) => c.cookies(uiUrl());
const cookieHeader = async (c: BrowserContext) => (await pageCookies(c)).map((k) => `${k.name}=${k.value}`).join('; ');
const csrfOf = (p: Page) => p.locator('meta[name="csrf-token"]').getAttribute('content') as Promise<string>;
const rowOf = (name: string) => page.locator('#token-rows tr', { has: page.locator('td.cell-name', { hasText: name }) });
const proxyGet = (token: string) => fetch(`${sc.proxyUrl}/rest/test/echo`, { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  upstream = await startJiraUpstream();
  // The IdP's port first (the sidecar's config names it), its provider once the sidecar's callback URL is known.
  let provider: Provider | undefined;
  idpServer = http.createServer((req, res) => {
    if (provider) return provider.callback()(req, res);
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((r) => idpServer.listen(0, '127.0.0.1', r));
  issuerUrl = `http://localhost:${(idpServer.address() as AddressInfo).port}`;
  sc = await startTestSidecar(upstream.url, {
    jwt: { issuers: [{ name: 'corp', issuer: issuerUrl, audiences: [RESOURCE], keys: { discovery: issuerUrl }, algorithms: ['RS256'] }] },
    // Read-only tokens are minted at once; read-and-write ones need an admin's approval.
    apiTokens: { creatorGroups: ['token-makers'], approval: 'write' },
    selfService: { enabled: true, issuer: 'corp', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, resource: RESOURCE },
    audit: { flushIntervalMs: 20 },
  });
  provider = makeProvider(`${sc.proxyUrl}/_sidecar/tokens/callback`);
  ctx = await browser();
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: sc.proxyUrl });
  page = await ctx.newPage();
  watch(page);
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await sc?.close();
  await upstream?.close();
  idpServer?.closeAllConnections();
  await new Promise((r) => idpServer?.close(r));
});

describe('self-service token page in Chromium', () => {
  let ciToken = '';

  it('signs in at the IdP and lists the existing tokens with their usage', async () => {
    // A token alice already has, used three times.
    const created = await sc.runtime.deps.services.apiTokens!.create({ owner: 'alice', name: 'ci-bot', access: 'read', groups: GROUPS.alice!, createdBy: 'test' }, sc.runtime.deps.getPolicy().config.apiTokens);
    ciToken = created.token;
    for (let i = 0; i < 3; i++) expect((await proxyGet(ciToken)).status).toBe(200);
    await expect.poll(() => sc.runtime.stores.audit.count({ token: created.id, credentialKind: 'api-token' }), { timeout: 5000 }).toBe(3);

    await signIn(page, 'alice');
    await page.getByRole('heading', { level: 1, name: 'Your API tokens' }).waitFor();
    await expect.poll(() => page.locator('#who').textContent()).toBe('alice');
    const row = rowOf('ci-bot');
    await row.waitFor();
    expect(await row.locator('td[data-label="Requests (30 days)"]').textContent()).toBe('3');
    expect(await row.locator('td[data-label="Last IP"]').textContent()).toBe('127.0.0.1');
    expect(await row.locator('td[data-label="Last used"]').textContent()).not.toBe('never');
    expect(await row.locator('td[data-label="Scope"]').textContent()).toContain('Read only');
    expect(await row.locator('.badge').textContent()).toBe('active');
    await shot('list-1280');
  });

  it('serves the page with a strict CSP, no framing, no caching, and cookies only JS cannot read', async () => {
    const res = pageResponses.find((r) => r.url() === uiUrl() && r.status() === 200)!;
    expect(res).toBeDefined();
    const h = await res.allHeaders();
    expect(h['content-security-policy']).toContain("script-src 'self'");
    expect(h['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(h['content-security-policy']).not.toContain('unsafe-inline');
    expect(h['x-frame-options']).toBe('DENY');
    expect(h['cache-control']).toBe('no-store');
    expect(h['referrer-policy']).toBe('no-referrer');
    expect(await ctx.cookies(sc.proxyUrl)).toEqual([]); // never sent to Jira's paths
    const session = (await pageCookies(ctx)).find((c) => c.name === 'sidecar_tokens_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/_sidecar/tokens' });
    const login = (await pageCookies(ctx)).find((c) => c.name === 'sidecar_tokens_login')!;
    expect(login).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/_sidecar/tokens' });
    expect(await page.evaluate(() => (globalThis as any).document.cookie)).toBe('');
  });

  it('creates a token and shows its secret once, with a copy button', async () => {
    await page.getByLabel('Name').fill('laptop');
    await page.getByLabel('Access').selectOption('read');
    await page.getByLabel('Lifetime (days)').fill('30');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = page.locator('#secret-value');
    await secret.waitFor();
    const token = await secret.inputValue();
    expect(token).toMatch(/^jas_[A-Za-z0-9]{36}$/);
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await expect.poll(() => page.locator('#copy').textContent()).toBe('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    await rowOf('laptop').waitFor();
    expect(await rowOf('laptop').locator('td[data-label="Scope"]').textContent()).toContain('Read only');
    await shot('created-1280');
    // The secret works at the proxy.
    expect((await proxyGet(token)).status).toBe(200);
    // Hidden on request, and never shown again: not after a reload, not in the list answer.
    await page.getByRole('button', { name: 'I have stored it, hide it' }).click();
    expect(await page.locator('#secret').isHidden()).toBe(true);
    await page.reload();
    await rowOf('laptop').waitFor();
    expect(await page.content()).not.toContain(token);
    expect(await page.locator('#secret').isHidden()).toBe(true);
  });

  it('rotates a token: a new secret, and the old one is refused at once with no overlap', async () => {
    const id = await rowOf('laptop').getAttribute('data-id');
    await rowOf('laptop').getByRole('button', { name: 'Rotate laptop' }).click();
    await page.locator('#confirm').waitFor();
    await page.getByLabel('Keep the old secret working for').selectOption('0');
    await page.locator('#confirm-ok').click();
    const secret = page.locator('#secret-value');
    await expect.poll(() => secret.inputValue()).toMatch(/^jas_/);
    const fresh = await secret.inputValue();
    await expect.poll(async () => rowOf('laptop').count()).toBeGreaterThan(0);
    // The new token is a new row; the old one is expired.
    await expect.poll(async () => (await page.locator('#token-rows tr').count())).toBe(3);
    expect(await page.locator(`#token-rows tr[data-id="${id}"] .badge`).textContent()).toBe('expired');
    expect((await proxyGet(fresh)).status).toBe(200);
    await page.getByRole('button', { name: 'I have stored it, hide it' }).click();
  });

  it('asks for a read-and-write token, and claims it once an admin approved it', async () => {
    await page.getByLabel('Name').fill('deploy');
    await page.getByLabel('Access').selectOption('write');
    await page.getByLabel('Why you need it').fill('deploys from the CI server');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#notice', { hasText: 'was sent to an administrator' }).waitFor();
    expect(await page.locator('#secret').isHidden()).toBe(true);
    const reqRow = page.locator('#request-rows tr', { hasText: 'deploy' });
    await reqRow.waitFor();
    expect(await reqRow.locator('.badge').textContent()).toBe('pending');
    expect(await reqRow.getByRole('button', { name: 'Claim deploy' }).count()).toBe(0);
    // An admin approves it.
    const requests = new TokenRequests(sc.runtime.stores.tokenRequests, sc.runtime.deps.services.apiTokens!);
    const id = (await reqRow.getAttribute('data-id'))!;
    expect((await requests.decide(id, { status: 'approved', by: 'admin' }))?.decided).toBe(true);
    await page.reload();
    await expect.poll(() => reqRow.locator('.badge').textContent()).toBe('approved');
    await shot('request-approved-1280');
    await reqRow.getByRole('button', { name: 'Claim deploy' }).click();
    const secret = page.locator('#secret-value');
    await expect.poll(() => secret.inputValue()).toMatch(/^jas_/);
    const token = await secret.inputValue();
    await expect.poll(() => reqRow.locator('.badge').textContent()).toBe('issued');
    await rowOf('deploy').waitFor();
    expect(await rowOf('deploy').locator('td[data-label="Scope"]').textContent()).toContain('Read and write');
    expect((await proxyGet(token)).status).toBe(200);
    await page.getByRole('button', { name: 'I have stored it, hide it' }).click();
  });

  it('revokes a token', async () => {
    const row = rowOf('ci-bot');
    await row.getByRole('button', { name: 'Revoke ci-bot' }).click();
    await page.locator('#confirm-ok').click();
    await expect.poll(() => rowOf('ci-bot').locator('.badge').textContent()).toBe('revoked');
    await page.locator('#notice', { hasText: 'revoked' }).waitFor();
    const r = await proxyGet(ciToken);
    expect(r.status).toBe(401);
    await shot('revoked-1280');
  });

  it('fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await rowOf('laptop').first().waitFor();
    expect(await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('list-390');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('refuses a JSON API call that carries the session cookie without the CSRF token', async () => {
    const cookie = await cookieHeader(ctx);
    const csrf = await csrfOf(page);
    const body = JSON.stringify({ name: 'forged' });
    const noHeader = await fetch(`${sc.proxyUrl}/_sidecar/tokens`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body });
    expect(noHeader.status).toBe(403);
    expect(((await noHeader.json()) as { error: string }).error).toBe('csrf_invalid');
    const wrong = await fetch(`${sc.proxyUrl}/_sidecar/tokens`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': `${csrf}x` }, body });
    expect(wrong.status).toBe(403);
    const read = await fetch(`${sc.proxyUrl}/_sidecar/tokens`, { headers: { cookie, accept: 'application/json' } });
    expect(read.status).toBe(403);
    // A browser on another site: refused even with the token (Fetch Metadata).
    const crossSite = await fetch(`${sc.proxyUrl}/_sidecar/tokens`, { headers: { cookie, 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.status).toBe(403);
    // The right token is what makes the call: the session's access token then goes through the stages.
    const ok = await fetch(`${sc.proxyUrl}/_sidecar/tokens`, { headers: { cookie, 'x-csrf-token': csrf } });
    expect(ok.status).toBe(200);
    const list = (await ok.json()) as { tokens: Array<{ name: string; requests30d: number }> };
    expect(list.tokens.map((t) => t.name).sort()).toEqual(['ci-bot', 'deploy', 'laptop', 'laptop']);
    expect(list.tokens.every((t) => typeof t.requests30d === 'number')).toBe(true);
    expect(JSON.stringify(list)).not.toMatch(/jas_/);
    // Nothing was created by the refused calls.
    expect((await sc.runtime.deps.services.apiTokens!.list({ owner: 'alice' })).some((t) => t.name === 'forged')).toBe(false);
    // The refusals are in the audit log.
    await expect.poll(() => sc.runtime.stores.audit.count({ path: '/_sidecar/tokens', decision: 'deny' }), { timeout: 5000 }).toBeGreaterThanOrEqual(4);
  });

  it('refuses a replayed callback (same code and state) and one from a browser that did not start the sign-in', async () => {
    expect(callbackUrls.length).toBeGreaterThan(0);
    const used = callbackUrls[0]!;
    expect(new URL(used).searchParams.get('code')).toBeTruthy();
    const cookie = await cookieHeader(ctx);
    const replay = await fetch(used, { headers: { cookie }, redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('no longer valid');
    expect(replay.headers.get('set-cookie')).toBeNull();
    // In the browser too: the page says so and offers to start again.
    expectedStatus = 400;
    await page.goto(used);
    await page.getByRole('heading', { name: 'This sign-in link is no longer valid' }).waitFor();
    await shot('replayed-callback');
    expectedStatus = undefined;

    // A fresh attempt (state and verifier kept by the sidecar) ...
    const start = await fetch(uiUrl(), { redirect: 'manual' });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    expect(authorize.searchParams.get('resource')).toBe(RESOURCE);
    const state = authorize.searchParams.get('state')!;
    const loginCookie = start.headers.get('set-cookie')!.split(';')[0]!;
    // ... finished without its browser binding is refused, and the state is spent.
    const foreign = await fetch(`${sc.proxyUrl}/_sidecar/tokens/callback?code=x&state=${state}`, { redirect: 'manual' });
    expect(foreign.status).toBe(400);
    expect(await foreign.text()).toContain('another browser');
    const again = await fetch(`${sc.proxyUrl}/_sidecar/tokens/callback?code=x&state=${state}`, { headers: { cookie: loginCookie }, redirect: 'manual' });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('no longer valid');
  });

  it('signs out', async () => {
    await page.goto(uiUrl());
    await rowOf('laptop').first().waitFor();
    const cookie = await cookieHeader(ctx);
    const csrf = await csrfOf(page);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    const after = await fetch(`${sc.proxyUrl}/_sidecar/tokens`, { headers: { cookie, 'x-csrf-token': csrf } });
    expect(after.status).toBe(401);
  });

  it('shows a user outside apiTokens.creatorGroups a clear refusal', async () => {
    // A fresh browser state (the IdP's session too), then bob signs in.
    await ctx.clearCookies();
    const p = await ctx.newPage();
    watch(p, true);
    try {
      await signIn(p, 'bob');
      await p.getByRole('heading', { name: 'You cannot manage API tokens here' }).waitFor();
      expect(await p.locator('#refused-text').textContent()).toBe('You are not allowed to create API tokens.');
      expect(await p.locator('#create-form').isVisible()).toBe(false);
      expect(await p.locator('#who').textContent()).toBe('bob');
      await shot('refused-1280', p);
      await p.setViewportSize({ width: 390, height: 844 });
      await shot('refused-390', p);
    } finally {
      await p.close();
    }
  });

  it('ran without script errors or CSP violations on its pages', () => {
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
