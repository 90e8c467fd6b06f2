// The admin UI in headless Debian Chromium against a real sidecar and a Jira-like upstream:
// log in, make and use tokens, change access rules and watch the proxy obey, test a token,
// browse/filter/export the audit log, and check that hostile request data is shown as text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { ADMIN_PASSWORD } from '../helpers/admin.js';
import { ensureUiBuilt, launchBrowser, SCREENSHOTS } from '../helpers/browser.js';
import { rawRequest } from '../helpers/http.js';
import { fixedClock } from '../../src/clock.js';

// Browser globals inside page.evaluate callbacks (the test tsconfig has no DOM lib).
declare const window: any;
declare const document: any;

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;
const DAY = 86_400_000;

let upstream: JiraUpstream;
let sc: TestSidecar;
let ctx: BrowserContext;
let page: Page;
const clock = fixedClock(Date.now());
const dialogs: string[] = [];
const consoleErrors: string[] = [];
const pageErrors: string[] = [];

const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
const go = async (hash: string, heading: string) => {
  await page.click(`nav a[href="#/${hash}"]`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
};
const call = (p: string, token: string, method = 'GET') => fetch(sc.proxyUrl + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });

beforeAll(async () => {
  ensureUiBuilt();
  upstream = await startJiraUpstream();
  sc = await startTestSidecar(upstream.url, { credentials: { anonymous: 'deny' }, admin: { sessionTtlSec: 90 * 86400 }, audit: { flushIntervalMs: 20 } }, { clock });
  ctx = await launchBrowser();
  page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await sc?.close();
  await upstream?.close();
});

describe('admin UI in Chromium', () => {
  let bobToken = '';

  it('logs in with the keyboard and shows the overview', async () => {
    await page.goto(sc.adminUrl);
    await page.getByLabel('Password').waitFor();
    await shot('login');
    await page.getByLabel('Password').fill('not-the-password');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByText('Signed in as').waitFor();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.locator('figure svg').first().waitFor();
    await shot('overview');
  });

  it('creates a token (shown once, copy button) and the proxy accepts it', async () => {
    await go('tokens', 'Tokens');
    // Creation is a dialog opened by "Create a token"; the secret is then shown on the page.
    await page.getByRole('button', { name: 'Create a token' }).click();
    await page.getByRole('dialog', { name: 'Create a token' }).waitFor();
    await page.getByLabel('Owner (Jira username)').fill('bob');
    await page.getByLabel('Name', { exact: true }).fill('bob-ui-token');
    await page.getByLabel('Groups').fill('auditors');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByLabel('New token');
    await secret.waitFor();
    bobToken = await secret.inputValue();
    expect(bobToken).toMatch(/^jas_/);
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByText('Copied.').waitFor();
    await page.locator('tbody tr', { hasText: 'bob-ui-token' }).waitFor();
    await shot('tokens');
    const before = upstream.seen.length;
    const r = await call('/rest/api/2/myself', bobToken);
    expect(r.status).toBe(200);
    const seen = upstream.seen.slice(before).find((s) => s.url === '/rest/api/2/myself');
    expect(seen?.headers['x-forwarded-user']).toBe('bob');
    // The list never shows the secret again.
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(bobToken);
  });

  it('adds a read-only group; the proxy then refuses a POST from that group', async () => {
    expect((await call('/rest/api/2/issue', bobToken, 'POST')).status).toBe(201);
    await go('access', 'Access rules');
    // Inline CIDR feedback while typing, before anything is sent.
    const allow = page.getByLabel('IP allow-list', { exact: true });
    await allow.fill('10.0.0.0/8\n300.1.2.3/40');
    await page.locator('[data-path="access.ipAllowlist"] .error').filter({ hasText: '300.1.2.3/40' }).waitFor();
    await allow.fill('');
    await page.getByLabel('Read-only groups', { exact: true }).fill('auditors');
    await shot('access-rules');
    await page.getByRole('button', { name: 'Save' }).click();
    // The save preview replays the change over the recorded requests: bob's POST above would have
    // been refused, so the page asks first (an in-page dialog) when that row is already written.
    const saveAnyway = page.getByRole('dialog').getByRole('button', { name: 'Save anyway' });
    await saveAnyway.or(page.getByText(/Saved 1 change/)).first().waitFor();
    if (await saveAnyway.isVisible()) await saveAnyway.click();
    await page.getByText(/Saved 1 change/).waitFor();
    const refused = await call('/rest/api/2/issue', bobToken, 'POST');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toBe('read_only');
    expect((await call('/rest/api/2/myself', bobToken)).status).toBe(200);
  });

  it('shows the server\'s message next to the field it is about', async () => {
    await go('rate-limits', 'Rate limits');
    await page.getByLabel('Requests allowed').fill('0');
    await page.getByRole('button', { name: 'Save' }).click();
    const err = page.locator('[data-path="rateLimit.points"] .error');
    await err.filter({ hasText: /\S/ }).waitFor();
    await expect.poll(() => page.getByLabel('Requests allowed').getAttribute('aria-invalid')).toBe('true');
    await shot('rate-limits-invalid');
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await expect.poll(() => page.getByLabel('Requests allowed').inputValue()).toBe('600');
  });

  it('the test page shows the denial reason for an expired token', async () => {
    const created = await page.evaluate(async () => {
      const s = (await (await fetch('/api/session')).json()) as { csrfToken: string };
      const r = await fetch('/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ owner: 'alice', name: 'short-lived', days: 1 }) });
      return (await r.json()) as { token: string };
    });
    clock.advance(2 * DAY);
    await go('test', 'Test a token');
    await page.getByLabel('Token or Authorization value').fill(created.token);
    await page.getByLabel('Method').selectOption('GET');
    await page.getByLabel('Path').fill('/rest/api/2/myself');
    await page.getByLabel('Client IP').fill('10.20.30.40');
    const seenBefore = upstream.seen.length;
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    const result = page.locator('section.decision');
    await result.waitFor();
    await expect.poll(() => result.locator('h2').textContent()).toContain('token_expired');
    expect(await result.locator('table.verdicts tbody tr').count()).toBeGreaterThan(0);
    expect(upstream.seen.length).toBe(seenBefore);
    await shot('test-token');
  });

  it('shows a path containing <script> as text in the audit log, filters it and exports it', async () => {
    const hostile = '/rest/api/2/x<script>window.pwned=1</script>';
    const r = await rawRequest(sc.proxyUrl, { path: hostile });
    expect(r.status).toBe(401);
    await go('audit', 'Audit log');
    await page.getByLabel('Path prefix').fill('/rest/api/2/x');
    await page.getByLabel('Decision').selectOption('deny');
    // Apply until the table shows the filtered result (the audit log is written off the request path).
    const paths = () => page.locator('table.audit tbody td.path').allTextContents();
    await expect
      .poll(async () => {
        await page.getByRole('button', { name: 'Apply filters' }).click();
        await page.locator('table.audit[aria-busy="false"]').waitFor();
        const p = await paths();
        return p.length > 0 && p.every((x) => x.startsWith('/rest/api/2/x')) && p.some((x) => x.includes('<script>'));
      })
      .toBe(true);
    expect((await paths()).find((x) => x.includes('<script>'))).toBe('/rest/api/2/x<script>window.pwned=1</script>');
    expect(await page.locator('td.path script').count()).toBe(0);
    expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    // Row detail
    await page.locator('table.audit tbody tr').first().getByRole('button').click();
    // The detail opens beside the rows (not below the list), in view.
    await page.locator('aside.drawer').waitFor();
    expect(await page.locator('aside.drawer h2').evaluate((h: any) => h.getBoundingClientRect().top < window.innerHeight)).toBe(true);
    await shot('audit-log');
    // Export the filtered rows
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
    const csvText = readFileSync((await csv.path())!, 'utf8');
    expect(csvText.split('\n')[0]).toContain('path');
    expect(csvText).toContain('<script>');
    expect(csvText).not.toContain('/rest/api/2/myself');
    const [nd] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export NDJSON' }).click()]);
    const lines = readFileSync((await nd.path())!, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect((JSON.parse(l) as { path: string }).path.startsWith('/rest/api/2/x')).toBe(true);
  });

  it('refuses a write without the CSRF token (from the page itself)', async () => {
    const status = await page.evaluate(async () => {
      const cfg = (await (await fetch('/api/config')).json()) as { config: unknown };
      const r = await fetch('/api/config', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cfg.config) });
      return { status: r.status, body: (await r.json()) as { error: string } };
    });
    expect(status.status).toBe(403);
    expect(status.body.error).toBe('csrf_invalid');
  });

  it('admin activity lists the changes; the other pages render (screenshots)', async () => {
    await go('activity', 'Admin activity');
    await page.locator('tbody tr', { hasText: 'config.update' }).first().waitFor();
    expect(await page.locator('tbody tr', { hasText: 'token.create' }).count()).toBeGreaterThan(0);
    await shot('admin-activity');
    await go('authentication', 'Authentication');
    await page.getByRole('button', { name: 'Add issuer' }).click();
    await page.getByLabel('Entra ID tenant').fill('contoso.onmicrosoft.com');
    await page.getByRole('button', { name: 'Apply Entra ID preset' }).click();
    await expect.poll(() => page.getByLabel('Issuer (iss)').inputValue()).toBe('https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0');
    await expect.poll(() => page.getByLabel('JWKS URL').inputValue()).toBe('https://login.microsoftonline.com/contoso.onmicrosoft.com/discovery/v2.0/keys');
    await shot('authentication');
    await go('settings', 'Settings');
    await page.getByLabel('Jira base URL', { exact: true }).waitFor();
    await shot('settings');
    await go('raw-config', 'Raw configuration');
    await page.getByLabel('Configuration JSON').waitFor();
    await shot('raw-config');
    await go('account', 'Account');
    await page.getByLabel('Current password').waitFor();
    await shot('account');
    await go('overview', 'Overview');
    await page.locator('.card').first().waitFor();
    await shot('overview-after');
  });

  it('every setting has a form field on some page', async () => {
    const config = await page.evaluate(async () => ((await (await fetch('/api/config')).json()) as { config: unknown }).config);
    const leaves: string[] = [];
    const walk = (v: unknown, p: string) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) {
        for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
      } else leaves.push(p);
    };
    walk(config, '');
    const fields: string[] = [];
    for (const [hash, heading] of [['authentication', 'Authentication'], ['access', 'Access rules'], ['rate-limits', 'Rate limits'], ['settings', 'Settings']] as const) {
      await go(hash, heading);
      await page.locator('[data-path]').first().waitFor();
      // The introspection fields show only while it is switched on: switch it on (unsaved) to count them.
      if (hash === 'authentication') {
        expect(await page.locator('[data-path="introspection.endpoint"]').count()).toBe(0);
        await page.getByLabel('Introspection enabled').check();
        await page.locator('[data-path="introspection.endpoint"]').waitFor();
      }
      // The OAuth 1.0a application-link fields show only while a mode uses oauth1-impersonation.
      if (hash === 'settings') {
        expect(await page.locator('[data-path^="upstream.identity.oauth1."]').count()).toBe(0);
        await page.locator('[data-path="upstream.identity.mode"] select').selectOption('oauth1-impersonation');
        await page.locator('[data-path="upstream.identity.oauth1.consumerKey"]').waitFor();
      }
      fields.push(...(await page.locator('[data-path]').evaluateAll((els) => els.map((e) => e.getAttribute('data-path')!))));
      // Every control has a label (or an aria-label) a screen reader and getByLabel can find.
      const unlabelled = await page.locator('main input, main select, main textarea').evaluateAll((els) =>
        els.filter((e: any) => !(e.labels?.length || e.getAttribute('aria-label'))).map((e: any) => e.id || e.name || e.outerHTML.slice(0, 60)),
      );
      expect(unlabelled, hash).toEqual([]);
      if (hash === 'authentication' || hash === 'settings') await page.getByRole('button', { name: 'Discard changes' }).click();
    }
    const covered = (leaf: string) => fields.some((f) => leaf === f || leaf.startsWith(`${f}.`) || leaf.startsWith(`${f}[`));
    expect(leaves.filter((l) => !covered(l))).toEqual([]);
  });

  it('ran without script errors or Content-Security-Policy violations', () => {
    expect(pageErrors).toEqual([]);
    expect(consoleErrors.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([]);
  });

  it('is usable on a narrow window', async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await go('tokens', 'Tokens');
    const nav = await page.locator('nav').boundingBox();
    const main = await page.locator('main').boundingBox();
    expect(nav && main && main.y >= nav.y + nav.height - 1).toBe(true);
    // Nothing wider than the window (wide tables scroll inside their own box).
    const overflowing = await page.evaluate(() =>
      ([...document.querySelectorAll('body *')] as any[])
        .filter((el) => !el.closest('.table-wrap') && el.getBoundingClientRect().right > window.innerWidth + 1)
        .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${[...el.classList].join('.')}`),
    );
    expect(overflowing).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(400);
    await shot('narrow-tokens');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
