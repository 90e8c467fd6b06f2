// The admin console as a person uses it (issue 22), in headless Chromium against a real sidecar with
// a JWT issuer and some traffic: the Status page, the audit log's detail drawer and filters, dark mode,
// token usage, and an accessibility pass (axe-core) with screenshots of every page at two sizes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { BrowserContext, Page } from 'playwright-core';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { ADMIN_PASSWORD } from '../helpers/admin.js';
import { ensureUiBuilt, launchBrowser, SCREENSHOTS, watchPage, type PageTrouble } from '../helpers/browser.js';
import { startTestIssuer } from '../helpers/issuer.js';
import type { TokenIssuer } from '../../src/demo/token-issuer.js';
import type { Overview, SidecarStatus } from '../../src/admin/wire.js';
import { encodeRow } from '../../src/audit/encode.js';

// Browser globals inside page.evaluate callbacks (the test tsconfig has no DOM lib).
declare const window: any;
declare const document: any;
declare const getComputedStyle: any;

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;
let ctx: BrowserContext;
let page: Page;
let trouble: PageTrouble;

const shot = (name: string, p: Page = page) => p.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
const go = async (hash: string, heading: string, p: Page = page) => {
  await p.click(`nav a[href="#/${hash}"]`);
  await p.getByRole('heading', { level: 1, name: heading }).waitFor();
};
const call = (p: string, token: string, method = 'GET') => fetch(sc.proxyUrl + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });

async function login(p: Page) {
  await p.goto(sc.adminUrl);
  await p.getByLabel('Password').fill(ADMIN_PASSWORD);
  await p.keyboard.press('Enter');
  await p.getByText('Signed in as').waitFor();
}

beforeAll(async () => {
  ensureUiBuilt();
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    credentials: { anonymous: 'deny' },
    admin: { sessionTtlSec: 90 * 86400 },
    audit: { flushIntervalMs: 20 },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
  ctx = await launchBrowser();
  page = await ctx.newPage();
  trouble = watchPage(page);
  // Some traffic: a good JWT, a bad one.
  const good = issuer.sign({ sub: 'alice', preferred_username: 'alice', aud: 'jira-sidecar' });
  expect((await call('/rest/api/2/myself', good)).status).toBe(200);
  expect((await call('/rest/api/2/myself', issuer.sign({ sub: 'alice', preferred_username: 'alice', aud: 'jira-sidecar', exp: Math.floor(Date.now() / 1000) - 600 }))).status).toBe(401);
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await sc?.close();
  await issuer?.close();
  await upstream?.close();
});

describe('admin console (issue 22)', () => {
  it('GET /api/status says what /readyz and /metrics know', async () => {
    await login(page);
    const s = (await page.evaluate(async () => (await fetch('/api/status')).json())) as SidecarStatus;
    const readyz = (await (await fetch(`${sc.adminUrl}/readyz`)).json()) as { status: string; checks: Array<{ name: string; ok: boolean }>; replica: string };
    expect(s.status).toBe(readyz.status);
    expect(s.checks.map((c) => c.name)).toEqual(readyz.checks.map((c) => c.name));
    expect(s.replica).toBe(readyz.replica);
    expect(s.issuers).toEqual([expect.objectContaining({ issuer: 'test', ok: true, fetchedAt: expect.any(String) })]);
    expect(s.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(s.requests.allow).toBeGreaterThanOrEqual(1);
    expect(typeof s.audit.queue).toBe('number');
    // A first start: the JWT handover read the store and found nothing; introspection is not in use.
    expect(s.handover).toEqual([
      { kind: 'jwt', setting: 'jwt.cacheHandover', on: true, loaded: 0, skipped: 0, at: expect.any(String) },
      { kind: 'introspection', setting: 'introspection.cacheHandover', on: false, loaded: null, skipped: null, at: null },
    ]);
    // Not for anyone without a session.
    expect((await fetch(`${sc.adminUrl}/api/status`)).status).toBe(401);
  });

  it('the Status page shows each check, the issuer keys with when they were fetched, version, replica, audit writer, and refreshes itself', async () => {
    await go('status', 'Status');
    await page.locator('[data-status="ready"]').waitFor();
    await expect.poll(() => page.locator('#status-verdict').textContent()).toContain('Ready');
    const api = (await page.evaluate(async () => (await fetch('/api/status')).json())) as SidecarStatus;
    expect(await page.locator('tr[data-check]').evaluateAll((rows) => rows.map((r: any) => r.dataset.check))).toEqual(api.checks.map((c) => c.name));
    for (const name of ['store', 'jwt-keys', 'audit', 'rate-limit-store', 'api-token-identity']) {
      const row = page.locator(`tr[data-check="${name}"]`);
      expect(await row.count(), name).toBe(1);
      expect(await row.locator('.badge').textContent(), name).toBe('Ready');
    }
    expect(await page.locator('tr[data-check="jwt-keys"] th').textContent()).toContain('Signing keys');
    const issuerRow = page.locator('tr[data-issuer="test"]');
    expect(await issuerRow.textContent()).toContain('Keys loaded');
    expect(await issuerRow.textContent()).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(.* ago\)/);
    expect(await page.locator('[data-fact="version"]').textContent()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await page.locator('[data-fact="replica"]').textContent())?.trim().length).toBeGreaterThan(0);
    expect(await page.locator('[data-fact="audit-queue"]').textContent()).toMatch(/\d+ rows?/);
    expect(await page.locator('[data-fact="audit-lag"]').textContent()).toMatch(/ms|no batch yet/);
    expect(await page.locator('[data-handover="jwt"]').textContent()).toBe('verified JWTs: 0');
    expect(await page.locator('[data-handover="introspection"]').textContent()).toMatch(/^introspection answers: off \(introspection.cacheHandover\)$/);
    // Refreshed by itself: new traffic shows up without a click.
    const before = await page.locator('[data-fact="requests"]').textContent();
    const good = issuer.sign({ sub: 'alice', preferred_username: 'alice', aud: 'jira-sidecar' });
    for (let i = 0; i < 3; i++) await call('/rest/api/2/myself', good);
    await expect.poll(() => page.locator('[data-fact="requests"]').textContent(), { timeout: 12_000 }).not.toBe(before);
    await shot('status');
  });
});

describe('audit log (issue 22)', () => {
  let tokenId = '';

  it('the row detail opens beside the rows, in words, with links and the time zone', async () => {
    // A token's traffic: an allowed call and a refused write.
    const created = (await page.evaluate(async () => {
      const s: any = await (await fetch('/api/session')).json();
      const r = await fetch('/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ owner: 'carol', name: 'carol-ci', access: 'read' }) });
      return r.json();
    })) as { id: string; token: string };
    tokenId = created.id;
    expect((await call('/rest/api/2/myself', created.token)).status).toBe(200);
    expect((await call('/rest/api/2/issue', created.token, 'POST')).status).toBe(403);
    await page.evaluate(() => (window.location.hash = '#/audit?user=carol'));
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    await expect
      .poll(async () => {
        await page.getByRole('button', { name: 'Apply filters' }).click();
        await page.locator('table.audit[aria-busy="false"]').waitFor();
        return page.locator('p.total').getAttribute('data-total');
      })
      .toBe('2');
    expect(await page.locator('p.total').textContent()).toContain('2 rows match');
    // Every time says its zone.
    const zone: string = await page.evaluate(() => new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(new Date()).find((p: any) => p.type === 'timeZoneName')!.value as string);
    expect(await page.locator('table.audit thead th').first().textContent()).toBe(`Time (${zone})`);
    for (const t of await page.locator('table.audit tbody td:first-child').allTextContents()) expect(t.trim().endsWith(zone)).toBe(true);
    await page.locator('table.audit tbody tr').first().getByRole('button').click();
    const drawer = page.locator('aside.drawer');
    await drawer.waitFor();
    // Beside the rows and on screen, with the focus on its heading.
    const box = (await drawer.boundingBox())!;
    const table = (await page.locator('.audit-layout > .table-wrap').boundingBox())!;
    expect(box.x).toBeGreaterThan(table.x + table.width - 1);
    expect(box.y).toBeLessThan(800);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('row-h');
    const labels = await drawer.locator('dt').allTextContents();
    expect(labels).toEqual(expect.arrayContaining(['Client address', 'Previous hash', 'Row hash', 'User', 'API token', 'Time taken']));
    expect(labels.some((l) => /^[a-z]+[A-Z]/.test(l))).toBe(false); // no clientIp, prevHash
    expect((await drawer.locator('dd[data-field="time"]').textContent())!.trim().endsWith(zone)).toBe(true);
    await shot('audit-drawer');
    // The token link opens the Tokens page searched for it; the user link, that user's rows.
    expect(await drawer.locator('a[data-link="user"]').getAttribute('href')).toBe('#/audit?user=carol');
    await drawer.locator('a[data-link="token"]').click();
    await page.getByRole('heading', { level: 1, name: 'Tokens' }).waitFor();
    expect(await page.getByLabel('Search').inputValue()).toBe(tokenId);
    await page.locator('tbody tr', { hasText: 'carol-ci' }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
  });

  it('a bad filter clears the stale rows and names every bad field in words; the server refuses a bad address', async () => {
    const r: { status: number; body: any } = await page.evaluate(async () => {
      const res = await fetch('/api/audit?ip=10.0.0.0/99&status=abc');
      return { status: res.status, body: await res.json() };
    });
    expect(r.status).toBe(400);
    expect(r.body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['ip', 'status']);
    await page.evaluate(() => (window.location.hash = '#/audit'));
    await page.locator('table.audit[aria-busy="false"]').waitFor();
    await expect.poll(() => page.locator('table.audit tbody tr').count()).toBeGreaterThan(1);
    await page.getByLabel('Client address').fill('10.0.0.0/99');
    await page.getByLabel('Status').fill('abc');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const alert = page.locator('p.status.error');
    await alert.waitFor();
    const text = (await alert.textContent())!;
    expect(text).toContain('2 filters need fixing');
    expect(text).toContain('Client address');
    expect(text).toContain('Status');
    expect(text).not.toMatch(/bad_request|\(\w+_\w+\)/);
    expect(await page.locator('table.audit tbody tr').count()).toBe(1);
    expect(await page.locator('table.audit tbody').textContent()).toContain('Fix the filters');
    expect(await page.locator('p.total').count()).toBe(0);
    expect(await page.getByLabel('Client address').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Status').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#a-ip-err').textContent()).toContain('address ranges (CIDR) are not supported');
    await shot('audit-bad-filter');
    await page.getByLabel('Client address').fill('');
    await page.getByLabel('Status').fill('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('table.audit tbody tr').count()).toBeGreaterThan(1);
  });
});

/** WCAG contrast ratio of two computed CSS colours ("rgb(r, g, b)"). */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = (c.match(/[\d.]+/g) ?? []).slice(0, 3).map((x) => Number(x) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x! + 0.05) / (y! + 0.05);
}

describe('dark mode (issue 22)', () => {
  const colours = (p: Page) =>
    p.evaluate(() => {
      const cs = (el: any, prop: string) => (el ? getComputedStyle(el)[prop] : '');
      const fig = document.querySelector('figure');
      return {
        theme: document.documentElement.dataset.theme ?? null,
        bg: cs(document.documentElement, 'backgroundColor'),
        fg: cs(document.documentElement, 'color'),
        panel: cs(fig, 'backgroundColor'),
        tick: cs(document.querySelector('figure svg text'), 'fill'),
        bar: cs(document.querySelector('figure svg rect.bar'), 'fill'),
      };
    });

  it('follows the browser (prefers-color-scheme) and the header toggle overrides it, remembered', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await go('overview', 'Overview');
    await page.locator('figure svg text').first().waitFor();
    const dark = await colours(page);
    expect(dark.theme).toBeNull();
    expect(contrast(dark.bg, 'rgb(0, 0, 0)')).toBeLessThan(2); // a dark page
    expect(contrast(dark.fg, dark.bg)).toBeGreaterThan(7);
    expect(contrast(dark.tick, dark.panel)).toBeGreaterThan(4.5); // chart text readable
    expect(dark.bar === '' || contrast(dark.bar, dark.panel) > 3).toBe(true);
    expect(await page.getByRole('button', { name: 'Dark mode' }).getAttribute('aria-pressed')).toBe('true');
    await shot('overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await colours(page);
    expect(contrast(light.bg, 'rgb(255, 255, 255)')).toBeLessThan(1.2);
    expect(contrast(light.tick, light.panel)).toBeGreaterThan(4.5);
    // The toggle: dark although the browser prefers light, remembered across a reload.
    await page.getByRole('button', { name: 'Dark mode' }).click();
    expect(await page.getByRole('button', { name: 'Dark mode' }).getAttribute('aria-pressed')).toBe('true');
    expect((await colours(page)).theme).toBe('dark');
    expect(await page.evaluate(() => window.localStorage.getItem('jira-auth-sidecar.theme'))).toBe('dark');
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.locator('figure svg text').first().waitFor();
    const kept = await colours(page);
    expect(kept.theme).toBe('dark');
    expect(contrast(kept.bg, 'rgb(0, 0, 0)')).toBeLessThan(2);
    await go('status', 'Status');
    await page.locator('[data-status]').waitFor();
    await shot('status-dark');
    // And back to light, whatever the browser says.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.getByRole('button', { name: 'Dark mode' }).click();
    expect(await page.getByRole('button', { name: 'Dark mode' }).getAttribute('aria-pressed')).toBe('false');
    expect(contrast((await colours(page)).bg, 'rgb(255, 255, 255)')).toBeLessThan(1.2);
    await page.evaluate(() => window.localStorage.removeItem('jira-auth-sidecar.theme'));
    await page.emulateMedia({ colorScheme: 'light' });
    await page.reload();
    await page.getByText('Signed in as').waitFor();
  });
});

describe('tokens (issue 22)', () => {
  it('each token shows last use, a 30-day sparkline, refusals and a link to its audit rows; readable on a phone', async () => {
    await go('tokens', 'Tokens');
    const row = page.locator('tr', { hasText: 'carol-ci' });
    await row.waitFor();
    const id = (await row.getAttribute('data-token'))!;
    // The usage route counts the token's audit rows: 2 requests today, 1 refused (the POST).
    const usage: any = await page.evaluate(async (tid: string) => (await fetch(`/api/tokens/${tid}/usage`)).json(), id);
    expect(usage.perDay).toHaveLength(30);
    expect(usage.requests).toBe(2);
    expect(usage.refusals).toBe(1);
    await row.locator('[data-usage] svg.spark').waitFor();
    expect(await row.locator('svg.spark').getAttribute('aria-label')).toMatch(/^2 requests in the last 30 days, most on \d{4}-\d\d-\d\d \(2\)$/);
    expect(await row.locator('[data-requests]').textContent()).toBe('2 requests');
    expect(await row.locator('[data-refusals]').textContent()).toBe('1 refused');
    expect(await row.locator('svg.spark rect.bar').count()).toBe(30);
    await expect.poll(async () => page.evaluate(async () => ((await (await fetch('/api/tokens?q=carol-ci')).json()) as any).tokens[0].lastUsedAt)).not.toBeNull();
    await page.reload();
    await row.waitFor();
    expect(await row.locator('[data-last-used]').textContent()).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d \S+\s*from 127\.0\.0\.1/);
    await shot('tokens-usage');
    await row.getByRole('link', { name: 'Show in audit log: carol-ci' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    expect(await page.evaluate(() => window.location.hash)).toBe(`#/audit?token=${id}`);
    expect(await page.getByLabel('Token id').inputValue()).toBe(id);
    await expect.poll(() => page.locator('p.total').getAttribute('data-total')).toBe('2');

    // A phone: Status and the actions of every token are on screen, nothing wider than the window.
    const phone = await ctx.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${sc.adminUrl}/#/tokens`);
    await phone.getByRole('heading', { level: 1, name: 'Tokens' }).waitFor();
    const prow = phone.locator('tr', { hasText: 'carol-ci' });
    await prow.locator('[data-usage]').waitFor();
    for (const loc of [prow.locator('.badge.active'), prow.getByRole('button', { name: 'Revoke carol-ci' }), prow.getByRole('button', { name: 'Rotate carol-ci' }), prow.getByRole('link', { name: 'Show in audit log: carol-ci' })]) {
      const b = (await loc.boundingBox())!;
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(390);
    }
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await prow.scrollIntoViewIfNeeded();
    await shot('tokens-phone', phone);
    await phone.close();
  });
});

describe('token edit and sort (issue 22)', () => {
  /** POST /api/tokens from the page (the session's CSRF token). */
  const mint = (body: Record<string, unknown>) =>
    page.evaluate(async (b: Record<string, unknown>) => {
      const s = (await (await fetch('/api/session')).json()) as { csrfToken: string };
      const r = await fetch('/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify(b) });
      return (await r.json()) as { id: string; token: string };
    }, body);
  const tokenById = (id: string) => page.evaluate(async (tid: string) => ((await (await fetch(`/api/tokens?q=${tid}`)).json()) as any).tokens.find((t: any) => t.id === tid), id);
  const focusedEditId = () => page.evaluate(() => document.activeElement?.getAttribute('data-edit') ?? document.activeElement?.id);

  it('edits a token in a dialog: focus in and back, Escape closes, server errors by field, Extend, PATCH saved', async () => {
    const { id } = await mint({ owner: 'dave', name: 'dave-edit', days: 5 });
    await go('tokens', 'Tokens');
    const row = page.locator(`tr[data-token="${id}"]`);
    await row.waitFor();
    const dialog = page.getByRole('dialog', { name: 'Edit token "dave-edit"' });
    // Open: the focus moves into the dialog; Escape closes it and the focus is back on Edit.
    await row.getByRole('button', { name: 'Edit dave-edit' }).click();
    await dialog.waitFor();
    await expect.poll(focusedEditId).toBe('edit-name');
    expect(await page.getByLabel('Name', { exact: true }).last().inputValue()).toBe('dave-edit');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(focusedEditId).toBe(id);

    // A bad path: the server's message beside Paths, the focus on it, the dialog still open.
    await row.getByRole('button', { name: 'Edit dave-edit' }).click();
    await dialog.waitFor();
    await page.locator('#edit-name').fill('dave-edited');
    await page.locator('#edit-paths').fill('rest/no-slash');
    await page.locator('#edit-ipAllowlist').fill('10.1.0.0/16');
    // The token's rate limit in words: a phrase that cannot be read is said at once; one that can fills in the numbers.
    await page.locator('#edit-rateWords').fill('lots');
    await expect.poll(() => page.locator('#edit-rateWords-err').textContent()).toContain('Write a rate limit like "100 per minute"');
    await page.locator('#edit-rateWords').fill('100 per minute');
    expect(await page.locator('#edit-rateWords-err').textContent()).toBe('');
    expect([await page.locator('#edit-points').inputValue(), await page.locator('#edit-durationSec').inputValue()]).toEqual(['100', '60']);
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.locator('#edit-paths-err').textContent()).toContain('rest/no-slash');
    expect(await page.locator('#edit-paths').getAttribute('aria-invalid')).toBe('true');
    await expect.poll(focusedEditId).toBe('edit-paths');
    expect(await dialog.isVisible()).toBe(true);
    await shot('token-edit-error');
    // Extending past apiTokens.maxLifetimeDays (90) is refused beside the expiry.
    await page.locator('#edit-paths').fill('/rest/api/2/*');
    await page.locator('#edit-extendDays').fill('1000');
    await dialog.getByRole('button', { name: 'Extend' }).click();
    await page.locator('[data-new-expiry]').waitFor();
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.locator('#edit-expiresAt-err').textContent()).toContain('90 days');
    expect(await page.locator('#edit-paths-err').textContent()).toBe('');
    // Extend by 60 days: saved, the dialog closes, the focus is back on the token's Edit button.
    await page.locator('#edit-extendDays').fill('60');
    await dialog.getByRole('button', { name: 'Extend' }).click();
    const before = Date.now();
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByText(/Saved the changes to "dave-edited"/).waitFor();
    await expect.poll(focusedEditId).toBe(id);
    const t = await tokenById(id);
    expect(t).toMatchObject({ name: 'dave-edited', paths: ['/rest/api/2/*'], ipAllowlist: ['10.1.0.0/16'], rateLimit: { points: 100, durationSec: 60 } });
    expect(Math.abs(Date.parse(t.expiresAt) - (before + 60 * 86_400_000))).toBeLessThan(60_000);
    await row.locator('th.name', { hasText: 'dave-edited' }).waitFor();
    // Clearing the rate limit sends null.
    await row.getByRole('button', { name: 'Edit dave-edited' }).click();
    await page.locator('#edit-points').fill('');
    await page.locator('#edit-durationSec').fill('');
    await page.getByRole('dialog').getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    await expect.poll(async () => (await tokenById(id)).rateLimit ?? null).toBeNull();
  });

  it('sorts the list by name, owner, created, expires and last used (headers and the "Sort by" list)', async () => {
    const b = await mint({ owner: 'zed', name: 'sort-b', days: 3 });
    await new Promise((r) => setTimeout(r, 20));
    await mint({ owner: 'amy', name: 'sort-a', days: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const c = await mint({ owner: 'mia', name: 'sort-c', days: 2 });
    expect((await call('/rest/api/2/myself', c.token)).status).toBe(200);
    await expect.poll(async () => (await tokenById(c.id)).lastUsedAt).not.toBeNull();
    expect(b.id).toMatch(/^tok_/);
    await go('tokens', 'Tokens');
    await page.getByLabel('Search').fill('sort-');
    const names = () => page.locator('table.tokens tbody th.name').allTextContents();
    await expect.poll(names).toEqual(['sort-c', 'sort-a', 'sort-b']); // the server's order: newest first
    const header = (k: string) => page.locator(`table.tokens th[data-sort="${k}"]`);
    await header('name').getByRole('button').click();
    await expect.poll(names).toEqual(['sort-a', 'sort-b', 'sort-c']);
    expect(await header('name').getAttribute('aria-sort')).toBe('ascending');
    await header('name').getByRole('button').click();
    await expect.poll(names).toEqual(['sort-c', 'sort-b', 'sort-a']);
    expect(await header('name').getAttribute('aria-sort')).toBe('descending');
    await header('owner').getByRole('button').click();
    await expect.poll(names).toEqual(['sort-a', 'sort-c', 'sort-b']);
    expect(await header('name').getAttribute('aria-sort')).toBe('none');
    await header('created').getByRole('button').click();
    await expect.poll(names).toEqual(['sort-b', 'sort-a', 'sort-c']);
    await header('expires').getByRole('button').click();
    await expect.poll(names).toEqual(['sort-a', 'sort-c', 'sort-b']);
    await header('lastUsed').getByRole('button').click();
    await header('lastUsed').getByRole('button').click();
    await expect.poll(async () => (await names())[0]).toBe('sort-c');
    // The same from the "Sort by" list (what a phone, without column headers, uses).
    await page.getByLabel('Sort by').selectOption('owner:desc');
    await expect.poll(names).toEqual(['sort-b', 'sort-c', 'sort-a']);
    await shot('tokens-sorted');
  });

  it('creates a token in a dialog: focus in and back, Escape closes, errors beside fields, the secret shown once on the page', async () => {
    await go('tokens', 'Tokens');
    const open = page.getByRole('button', { name: 'Create a token' });
    const dialog = page.getByRole('dialog', { name: 'Create a token' });
    await page.getByLabel('Search').fill(''); // the previous test searched
    expect(await page.locator('#tok-owner').count()).toBe(0); // no inline form any more
    await open.click();
    await dialog.waitFor();
    await expect.poll(focusedEditId).toBe('tok-owner');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(focusedEditId).toBe('create-open');
    // A bad path: the server's message beside Paths, the focus on it, the dialog still open.
    await open.click();
    await dialog.waitFor();
    await page.getByLabel('Owner (Jira username)').fill('fay');
    await page.locator('#tok-name').fill('fay-dialog');
    await page.getByLabel('Paths').fill('rest/no-slash');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await expect.poll(() => page.locator('#tok-paths-err').textContent()).toContain('rest/no-slash');
    expect(await page.locator('#tok-paths').getAttribute('aria-invalid')).toBe('true');
    await expect.poll(focusedEditId).toBe('tok-paths');
    expect(await dialog.isVisible()).toBe(true);
    await shot('token-create-error');
    await page.getByLabel('Paths').fill('/rest/api/2/*');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const secret = page.getByLabel('New token');
    await secret.waitFor();
    expect(await secret.inputValue()).toMatch(/^jas_/);
    await expect.poll(focusedEditId).toBe('new-token');
    await page.locator('.secret-once').getByRole('button', { name: 'Copy', exact: true }).waitFor();
    await page.locator('tbody tr', { hasText: 'fay-dialog' }).waitFor();
    await shot('token-created');
    // Opened again, the form is empty.
    await open.click();
    expect(await page.getByLabel('Owner (Jira username)').inputValue()).toBe('');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(focusedEditId).toBe('create-open');
    await page.locator('.secret-once').getByRole('button', { name: 'Done' }).click();
  });

  it('pages the list 25 at a time, after sorting: Previous / Next and "1-25 of 30"', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await mint({ owner: `pager${i % 3}`, name: `pager-${String(i).padStart(2, '0')}`, days: 10 })).id);
    expect(new Set(ids).size).toBe(30);
    await go('tokens', 'Tokens');
    await page.getByLabel('Search').fill('pager-');
    const names = () => page.locator('table.tokens tbody th.name').allTextContents();
    const range = () => page.locator('.pager [data-range]').textContent();
    const prev = page.getByRole('button', { name: 'Previous', exact: true });
    const next = page.getByRole('button', { name: 'Next', exact: true });
    await expect.poll(range).toBe('1-25 of 30');
    expect(await names()).toHaveLength(25);
    expect((await names())[0]).toBe('pager-29'); // the server's order: newest first
    expect(await prev.isDisabled()).toBe(true);
    // Sorted by name, then paged: the first page is pager-00 … pager-24 of all 30.
    await page.getByLabel('Sort by').selectOption('name:asc');
    await expect.poll(names).toEqual(Array.from({ length: 25 }, (_, i) => `pager-${String(i).padStart(2, '0')}`));
    await next.click();
    await expect.poll(range).toBe('26-30 of 30');
    expect(await names()).toEqual(['pager-25', 'pager-26', 'pager-27', 'pager-28', 'pager-29']);
    expect(await next.isDisabled()).toBe(true);
    expect(await prev.isDisabled()).toBe(false);
    await shot('tokens-page-2');
    // A new order starts again at the first page, sorted over the whole list.
    await page.locator('table.tokens th[data-sort="name"]').getByRole('button').click(); // name, descending
    await expect.poll(async () => (await names()).slice(0, 2)).toEqual(['pager-29', 'pager-28']);
    expect(await range()).toBe('1-25 of 30');
    expect((await names()).at(-1)).toBe('pager-05');
    await next.click();
    await expect.poll(names).toEqual(['pager-04', 'pager-03', 'pager-02', 'pager-01', 'pager-00']);
    await prev.click();
    await expect.poll(range).toBe('1-25 of 30');
    // Each row of the page shown gets its usage.
    await page.locator('tr', { hasText: 'pager-05' }).locator('[data-usage]').waitFor();
    // A narrower search: back to one page.
    await page.getByLabel('Search').fill('pager-1');
    await expect.poll(range).toBe('1-10 of 10');
    expect(await next.isDisabled()).toBe(true);
  });
});

describe('authentication form (issue 22)', () => {
  it('hides the introspection fields while it is off; after a failed save the focused field is not under the sticky Save bar', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await go('authentication', 'Authentication');
    const enabled = page.getByLabel('Introspection enabled');
    await enabled.waitFor();
    expect(await enabled.isChecked()).toBe(false);
    const endpoint = page.locator('[data-path="introspection.endpoint"] input');
    expect(await page.locator('[data-path^="introspection."]:not([data-path="introspection.enabled"])').count()).toBe(0);
    await enabled.check();
    await endpoint.waitFor();
    for (const p of ['endpoint', 'clientId', 'clientAuth', 'clientSecret', 'usernameField', 'cacheSec', 'timeoutMs']) expect(await page.locator(`[data-path="introspection.${p}"]`).count(), p).toBe(1);
    await enabled.uncheck();
    await endpoint.waitFor({ state: 'detached' });
    await enabled.check();
    await endpoint.waitFor();
    // Put the endpoint field where the sticky bar covers it, then save without an endpoint.
    const bar = page.locator('form.config .actions.sticky');
    await page.evaluate(() => {
      const el = document.querySelector('[data-path="introspection.endpoint"] input');
      const barTop = document.querySelector('form.config .actions.sticky').getBoundingClientRect().top;
      const r = el.getBoundingClientRect();
      window.scrollBy(0, r.bottom - window.innerHeight + 4);
      const after = el.getBoundingClientRect();
      if (!(after.bottom > barTop)) throw new Error(`setup: the field (bottom ${after.bottom}) is not under the bar (top ${barTop})`);
    });
    await bar.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.locator('[data-path="introspection.endpoint"] .error').textContent()).toMatch(/\S/);
    await expect.poll(() => page.evaluate(() => document.activeElement?.closest('[data-path]')?.getAttribute('data-path'))).toBe('introspection.endpoint');
    const box = await page.evaluate(() => {
      const r = document.activeElement.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, barTop: document.querySelector('form.config .actions.sticky').getBoundingClientRect().top };
    });
    expect(box.top).toBeGreaterThanOrEqual(0);
    expect(box.bottom).toBeLessThanOrEqual(box.barTop);
    await shot('authentication-save-error');
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await endpoint.waitFor({ state: 'detached' });
  });
});

describe('overview (issue 22)', () => {
  const HOUR = 3_600_000;
  /** Effective size in CSS px of every axis label: the font size times the SVG's scale. */
  const tickSizes = (p: Page) =>
    p.evaluate(() =>
      [...document.querySelectorAll('.charts svg')].flatMap((svgEl: any) => {
        const scale = svgEl.getBoundingClientRect().width / svgEl.viewBox.baseVal.width;
        return [...svgEl.querySelectorAll('text.tick')].map((t: any) => parseFloat(getComputedStyle(t).fontSize) * scale);
      }),
    );

  beforeAll(async () => {
    // Older traffic straight into the audit store, hours apart (so the day view has gaps between):
    // refusals by mallory two hours ago, bob rate-limited four hours ago.
    const now = Date.now();
    const row = (time: number, over: Record<string, unknown>) =>
      encodeRow({ time, requestId: `seed-${time}`, decision: 'allow', reason: 'allowed', status: 200, method: 'GET', path: '/rest/api/2/search', clientIp: '10.0.0.9', user: 'mallory', credentialKind: 'jwt', tokenId: null, clientId: 'reports', issuer: null, latencyMs: 40, upstreamStatus: 200, route: 'guarded', stage: null, rule: null, wouldDeny: null, userAgent: null, facts: null, ...over } as any);
    const w = sc.runtime.stores.audit.requestWriter('inline');
    expect(
      await w.write(
        [
          ...[0, 1, 2].map((i) => row(now - 2 * HOUR + i, { decision: 'deny', reason: 'forbidden', status: 403, path: '/rest/api/2/project' })),
          ...[0, 1].map((i) => row(now - 4 * HOUR + i, { user: 'bob', decision: 'deny', reason: 'rate_limited', status: 429, path: '/rest/api/2/issue/A-1' })),
        ],
        1000,
      ),
    ).toBeUndefined();
    await w.close();
    // Signed in (this block also runs alone, with -t).
    await page.goto(sc.adminUrl);
    await page.getByText('Signed in as').or(page.getByLabel('Password')).first().waitFor();
    if (await page.getByLabel('Password').isVisible()) await login(page);
  });

  it('picks 1 h / 24 h / 7 d / custom ranges, splits Denied from Rate-limited, ranks users, tokens, clients and paths, and leaves gaps as gaps', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await go('overview', 'Overview');
    const picker = page.getByRole('group', { name: 'Time range' });
    expect(await picker.getByRole('button', { name: '1 h' }).getAttribute('aria-pressed')).toBe('true');
    await picker.getByRole('button', { name: '24 h' }).click();
    await page.locator('[data-range="24h"]').waitFor();
    expect(await picker.getByRole('button', { name: '24 h' }).getAttribute('aria-pressed')).toBe('true');
    const d = (await page.evaluate(async () => (await fetch('/api/overview?range=24h')).json())) as Overview;
    expect(d.buckets).toHaveLength(96);
    expect(d.totals.rateLimited).toBe(2);
    expect(d.totals.denied).toBeGreaterThanOrEqual(4); // mallory's three and the expired JWT, rate-limited apart
    expect(d.totals.requests).toBe(d.totals.allowed + d.totals.passthrough + d.totals.denied + d.totals.rateLimited + d.totals.errors);
    expect(await page.locator('[data-total="Rate-limited"] .n').textContent()).toBe('2');
    expect(await page.locator('[data-total="Denied"] .n').textContent()).toBe(String(d.totals.denied));
    // Top lists: by requests and by refusals, each value a link to its rows in the audit log.
    const refusedUsers = page.locator('table[data-top="user-refusals"] tbody tr');
    expect(await refusedUsers.first().locator('td').first().textContent()).toBe('mallory');
    expect(await page.locator('table[data-top="user-refusals"] tbody td.key').allTextContents()).toContain('bob');
    // Only users with refusals are listed there, each with its count.
    for (const n of await refusedUsers.locator('td.num:nth-child(3)').allTextContents()) expect(Number(n)).toBeGreaterThan(0);
    expect(await page.locator('table[data-top="user-requests"] tbody td.key').allTextContents()).toEqual(expect.arrayContaining(['alice', 'mallory', 'bob']));
    expect(await page.locator('table[data-top="path-refusals"] tbody td.key').allTextContents()).toEqual(expect.arrayContaining(['/rest/api/2/project', '/rest/api/2/issue/A-1']));
    expect(await page.locator('table[data-top="client-requests"] tbody td.key').first().textContent()).toBe('reports');
    await page.locator('table[data-top="token-requests"], .top-list:has-text("Tokens by requests") p').first().waitFor();
    // Gaps: a bar only where there were requests, and the latency line broken between busy buckets.
    const busy = d.buckets.map((b) => b.requests > 0);
    const runs = busy.filter((b, i) => b && !busy[i - 1]).length;
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(await page.locator('svg[data-chart="requests"] g rect.bar.ok').count()).toBe(busy.filter(Boolean).length);
    const p50 = (await page.locator('svg[data-chart="latency"] path.p50').getAttribute('d'))!;
    expect(p50.match(/M/g)).toHaveLength(runs);
    // Axis text at least 11 px as drawn.
    const wide = await tickSizes(page);
    expect(wide.length).toBeGreaterThan(4);
    expect(Math.min(...wide)).toBeGreaterThanOrEqual(11);
    await shot('overview-24h');
    // A top-list link opens the audit log filtered to that user and range.
    await refusedUsers.first().getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    expect(await page.getByLabel('User', { exact: true }).inputValue()).toBe('mallory');
    // 7 days: hourly buckets. Custom: from/to in local time.
    await go('overview', 'Overview');
    await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '7 d' }).click();
    await page.locator('[data-range="7d"]').waitFor();
    await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: 'Custom' }).click();
    const local = (t: number) => {
      const x = new Date(t);
      const p2 = (n: number) => String(n).padStart(2, '0');
      return `${x.getFullYear()}-${p2(x.getMonth() + 1)}-${p2(x.getDate())}T${p2(x.getHours())}:${p2(x.getMinutes())}`;
    };
    const now = Date.now();
    await page.getByLabel(/^From \(/).fill(local(now - 5 * HOUR));
    await page.getByLabel(/^To \(/).fill(local(now - 3 * HOUR));
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.locator('[data-range="custom"]').waitFor();
    await page.locator('[data-total="Rate-limited"] .n').filter({ hasText: '2' }).waitFor();
    expect(await page.locator('[data-total="Requests"] .n').textContent()).toBe('2');
    expect(await page.locator('table[data-top="user-requests"] tbody td.key').allTextContents()).toEqual(['bob']);
    // A backwards range is refused in words, before any request.
    await page.getByLabel(/^To \(/).fill(local(now - 6 * HOUR));
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'The end must be after the start.' }).waitFor();
  });

  it('a bad range from the API names the field', async () => {
    const r = await page.evaluate(async () => {
      const res = await fetch('/api/overview?range=2y');
      return { status: res.status, body: await res.json() };
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('range');
  });

  it('axis text stays at least 11 px on a phone, and the page does not scroll sideways', async () => {
    const phone = await ctx.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${sc.adminUrl}/#/overview`);
    await phone.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await phone.locator('.charts svg text.tick').first().waitFor();
    await phone.waitForTimeout(200); // the redraw at the measured width
    const sizes = await tickSizes(phone);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(11);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('overview-phone', phone);
    await phone.close();
  });
});

describe('settings split (issue 22)', () => {
  const rawJson = () => page.getByLabel('Configuration JSON');
  const serverConfig = () => page.evaluate(async () => ((await (await fetch('/api/config')).json()) as any).config);

  it('Settings holds only the settings forms; the password and API keys are on Account, the JSON on Raw configuration', async () => {
    const labels = await page.locator('nav a').allTextContents();
    expect(labels).toEqual(expect.arrayContaining(['Settings', 'Raw configuration', 'Account']));
    await go('settings', 'Settings');
    await page.getByLabel('Jira base URL', { exact: true }).waitFor();
    expect(await page.getByLabel('Configuration JSON').count()).toBe(0);
    expect(await page.getByLabel('Current password').count()).toBe(0);
    expect(await page.getByLabel('Key name').count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Deliveries' }).count()).toBe(1);
  });

  it('Account: an empty state until the first admin API key, then the list; the password form names the bad field', async () => {
    await go('account', 'Account');
    const empty = page.locator('[data-empty="admin-keys"]');
    await empty.waitFor();
    expect(await empty.textContent()).toContain('No admin API keys yet.');
    expect(await page.locator('.table-wrap[aria-label="Admin API keys"]').count()).toBe(0);
    await shot('account-empty');
    // The empty state passes axe-core too, light and dark, at both sizes (before the first key is made).
    const found: string[] = [];
    for (const scheme of ['light', 'dark'] as const)
      for (const [size, viewport] of SIZES) {
        const p = await openPage(viewport, scheme);
        await go('account', 'Account', p);
        await p.locator('[data-empty="admin-keys"]').waitFor();
        found.push(...(await axeProblems(p, `account empty (${size}, ${scheme})`)));
        await shot(`a11y-${size}${scheme === 'dark' ? '-dark' : ''}-account-empty`, p);
        await p.close();
      }
    expect(found).toEqual([]);
    await page.getByLabel('Key name').fill('ci-script');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByLabel('New admin API key').waitFor();
    expect(await page.getByLabel('New admin API key').inputValue()).toMatch(/^jasadm_/);
    await page.locator('.table-wrap[aria-label="Admin API keys"]').locator('tr', { hasText: 'ci-script' }).waitFor();
    expect(await empty.count()).toBe(0);
    // A mismatched repeat is shown beside its field, nothing sent.
    await page.getByLabel('Current password').fill(ADMIN_PASSWORD);
    await page.getByLabel('New password (12+ characters)').fill('a-new-password-123');
    await page.getByLabel('Repeat new password').fill('another-password-123');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.locator('#pw-repeatPassword-err').textContent()).toContain('does not match');
    expect(await page.getByLabel('Repeat new password').getAttribute('aria-invalid')).toBe('true');
    await shot('account');
  }, 90_000);

  it('Raw configuration: a save is previewed like the form pages and asks before refusing requests', async () => {
    await go('raw-config', 'Raw configuration');
    await expect.poll(async () => (await rawJson().inputValue()).length).toBeGreaterThan(100);
    const original = JSON.parse(await rawJson().inputValue());
    expect(original.credentials.jwt).toBe('verify');
    // Not JSON: said beside the editor, nothing sent.
    await rawJson().fill('{ "log": ');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.locator('#raw-issues').textContent()).toContain('Not valid JSON');
    expect(await rawJson().getAttribute('aria-invalid')).toBe('true');
    // Refusing JWTs would have refused alice's recorded requests: the same dialog as the form pages.
    await rawJson().fill(JSON.stringify({ ...original, credentials: { ...original.credentials, jwt: 'deny' } }, null, 2));
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Save a change that refuses requests?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/This change would have refused \d+ requests? from/);
    await shot('raw-config-confirm');
    await page.keyboard.press('Escape');
    await page.getByText('Not saved. Your changes are still here.').waitFor();
    expect((await serverConfig()).credentials.jwt).toBe('verify');
    expect(JSON.parse(await rawJson().inputValue()).credentials.jwt).toBe('deny');
    // Discard brings back the saved document.
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await expect.poll(async () => JSON.parse(await rawJson().inputValue()).credentials.jwt).toBe('verify');
    // A bad value: the server's message beside the editor, the focus on it.
    await rawJson().fill(JSON.stringify({ ...original, log: { ...original.log, level: 'loud' } }, null, 2));
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.locator('#raw-issues').textContent()).toContain('log.level');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('raw-config');
    // A harmless change is saved after its preview, without a question.
    await rawJson().fill(JSON.stringify({ ...original, audit: { ...original.audit, retentionDays: original.audit.retentionDays + 1 } }, null, 2));
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText(/Saved 1 change/).waitFor();
    expect(await page.locator('section.preview').textContent()).toContain('This change would have changed nothing');
    expect((await serverConfig()).audit.retentionDays).toBe(original.audit.retentionDays + 1);
    expect(await page.locator('#raw-issues').textContent()).toBe('');
  });
});

/** The pages of the console, by nav hash and heading. */
const PAGES: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['status', 'Status'],
  ['authentication', 'Authentication'],
  ['access', 'Access rules'],
  ['readiness', 'Readiness'],
  ['rate-limits', 'Rate limits'],
  ['tokens', 'Tokens'],
  ['test', 'Test a token'],
  ['audit', 'Audit log'],
  ['activity', 'Admin activity'],
  ['settings', 'Settings'],
  ['raw-config', 'Raw configuration'],
  ['account', 'Account'],
];

// axe-core's source, run with page.evaluate (the CSP refuses an injected inline <script>).
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

type Violation = { id: string; impact: string; help: string; nodes: Array<{ target: string[] }> };

/** The serious and critical axe-core violations on the page as it is now (WCAG 2.1 A and AA), as lines. */
async function axeProblems(p: Page, where: string): Promise<string[]> {
  if (!(await p.evaluate(() => typeof (window as any).axe === 'object'))) await p.evaluate(AXE);
  const violations: Violation[] = await p.evaluate(async () => {
    const r = await (window as any).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n: any) => ({ target: n.target })) }));
  });
  return violations.filter((x) => x.impact === 'serious' || x.impact === 'critical').map((v) => `${where}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** A new page at a size and colour scheme, signed in (this block also runs alone, with -t). */
async function openPage(viewport: { width: number; height: number }, scheme: 'light' | 'dark'): Promise<Page> {
  const p = await ctx.newPage();
  await p.setViewportSize(viewport);
  await p.emulateMedia({ colorScheme: scheme });
  await p.goto(`${sc.adminUrl}/#/overview`);
  const overview = p.getByRole('heading', { level: 1, name: 'Overview' });
  await overview.or(p.getByLabel('Password')).first().waitFor();
  if (await p.getByLabel('Password').isVisible()) await login(p);
  await overview.waitFor();
  return p;
}

const SIZES = [['wide', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]] as const;

describe('accessibility (issue 22)', () => {
  for (const scheme of ['light', 'dark'] as const)
    for (const [size, viewport] of SIZES) {
      const mode = scheme === 'light' ? size : `${size}-dark`;
      it(`every page has no serious or critical axe-core violations, and a screenshot (${viewport.width}x${viewport.height}, ${scheme})`, async () => {
        const p = await openPage(viewport, scheme);
        const found: string[] = [];
        for (const [hash, heading] of PAGES) {
          await p.evaluate((h: string) => (window.location.hash = `#/${h}`), hash);
          await p.getByRole('heading', { level: 1, name: heading }).waitFor();
          await p.waitForTimeout(300); // the page's first answer
          if (scheme === 'dark') expect(await p.evaluate(() => window.matchMedia('(prefers-color-scheme: dark)').matches)).toBe(true);
          found.push(...(await axeProblems(p, hash)));
          await p.screenshot({ path: path.join(SCREENSHOTS, `a11y-${mode}-${hash}.png`), fullPage: true });
        }
        await p.close();
        expect(found).toEqual([]);
      }, 180_000);
    }

  it('each open dialog (create a token, edit and extend a token, the save confirmation) has no serious or critical violations, light and dark, at both sizes', async () => {
    // A token to edit.
    const setup = await openPage(SIZES[0][1], 'light');
    await setup.evaluate(async () => {
      const s = (await (await fetch('/api/session')).json()) as { csrfToken: string };
      await fetch('/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ owner: 'gus', name: 'a11y-edit', days: 5 }) });
    });
    await setup.close();
    const found: string[] = [];
    for (const scheme of ['light', 'dark'] as const)
      for (const [size, viewport] of SIZES) {
        const tag = `${size}${scheme === 'dark' ? '-dark' : ''}`;
        const p = await openPage(viewport, scheme);
        await go('tokens', 'Tokens', p);
        // Create a token.
        await p.getByRole('button', { name: 'Create a token' }).click();
        const create = p.getByRole('dialog', { name: 'Create a token' });
        await create.waitFor();
        found.push(...(await axeProblems(p, `create dialog (${tag})`)));
        await p.screenshot({ path: path.join(SCREENSHOTS, `a11y-${tag}-dialog-create-token.png`) });
        await p.keyboard.press('Escape');
        await create.waitFor({ state: 'hidden' });
        // Edit a token, with "Extend" pressed (the new expiry shown).
        await p.getByLabel('Search').fill('a11y-edit');
        await p.getByRole('button', { name: 'Edit a11y-edit' }).click();
        const edit = p.getByRole('dialog', { name: 'Edit token "a11y-edit"' });
        await edit.waitFor();
        await edit.getByRole('button', { name: 'Extend' }).click();
        await p.locator('[data-new-expiry]').waitFor();
        found.push(...(await axeProblems(p, `edit dialog (${tag})`)));
        await p.screenshot({ path: path.join(SCREENSHOTS, `a11y-${tag}-dialog-edit-token.png`) });
        await p.keyboard.press('Escape');
        await edit.waitFor({ state: 'hidden' });
        // The save confirmation: refusing JWTs would have refused alice's recorded requests.
        await go('authentication', 'Authentication', p);
        await p.locator('[data-path="credentials.jwt"] select').selectOption('deny');
        await p.locator('form.config .actions.sticky').getByRole('button', { name: 'Save', exact: true }).click();
        const confirm = p.getByRole('dialog', { name: 'Save a change that refuses requests?' });
        await confirm.waitFor();
        found.push(...(await axeProblems(p, `save confirmation (${tag})`)));
        await p.screenshot({ path: path.join(SCREENSHOTS, `a11y-${tag}-dialog-confirm-save.png`) });
        await p.keyboard.press('Escape');
        await p.getByText('Not saved. Your changes are still here.').waitFor();
        await p.close();
      }
    expect(found).toEqual([]);
  }, 240_000);

  it('ran without script errors or Content-Security-Policy violations', () => {
    expect(trouble.pageErrors).toEqual([]);
    expect(trouble.cspViolations()).toEqual([]);
  });
});
