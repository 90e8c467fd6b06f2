// Safe rollout in the admin UI (issue 18), in headless Debian Chromium against a real sidecar, a
// Jira-like upstream and the local token issuer: real Basic and JWT traffic through the proxy, then
// the Readiness page (sentence, chart, tables, audit link, CSV), the report-only rule fields, and
// the save preview: a change that would refuse recorded requests asks first, one that would not
// saves at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { ensureUiBuilt, launchBrowser, SCREENSHOTS } from '../helpers/browser.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';

// Browser globals inside page.evaluate callbacks (the test tsconfig has no DOM lib).
declare const window: any;
declare const document: any;

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;
let admin: AdminClient;
let ctx: BrowserContext;
let page: Page;
const dialogs: string[] = [];
const consoleErrors: string[] = [];
const pageErrors: string[] = [];

const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
const go = async (hash: string, heading: string) => {
  await page.click(`nav a[href="#/${hash}"]`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
};

// What the test sends, so the expectations are counted from it rather than written down twice.
const UA = { curl: 'curl/8.5.0', python: 'python-requests/2.31.0', script: 'jira-sync-script/1.2' };
const BASIC: Array<{ user: string; path: string; ua: string; query?: boolean }> = [
  { user: 'alice', path: '/rest/api/2/myself', ua: UA.curl },
  { user: 'alice', path: '/rest/api/2/issue/DEMO-1', ua: UA.curl },
  { user: 'alice', path: '/rest/api/2/issue/DEMO-2', ua: UA.curl },
  { user: 'bob', path: '/rest/api/2/myself', ua: UA.python },
  { user: 'bob', path: '/rest/api/2/search', ua: UA.python },
  { user: 'carol', path: '/rest/api/2/myself', ua: UA.script },
  // Jira's legacy query-string form (os_username/os_password)
  { user: 'dave', path: '/rest/api/2/myself', ua: UA.script, query: true },
];
const basicUsers = [...new Set(BASIC.map((b) => b.user))];
/** Read-only group in report mode: POSTs from its members are allowed and recorded as would-deny read_only. */
const CONTRACTOR_POSTS: Array<{ user: string; groups: string[] }> = [
  { user: 'erin', groups: ['contractors'] },
  { user: 'erin', groups: ['contractors'] },
  { user: 'frank', groups: ['contractors', 'jira-users'] },
];
const contractorUsers = [...new Set(CONTRACTOR_POSTS.map((c) => c.user))];

const basicAuth = (user: string) => `Basic ${Buffer.from(`${user}:secret-${user}`).toString('base64')}`;
const userToken = (username: string, groups: string[]) => issuer.sign({ aud: 'jira-sidecar', sub: `id-${username}`, preferred_username: username, groups, idtyp: 'user' });

async function sendTraffic() {
  for (const b of BASIC) {
    const before = upstream.seen.length;
    const r = b.query
      ? await rawRequest(sc.proxyUrl, { path: `${b.path}?os_username=${b.user}&os_password=secret`, headers: [['User-Agent', b.ua]] })
      : await rawRequest(sc.proxyUrl, { path: b.path, headers: [['Authorization', basicAuth(b.user)], ['User-Agent', b.ua]] });
    // Passed through: Jira answers (the fake Jira does not read os_username, so that one is its 401).
    expect(upstream.seen.length, `${b.user} ${b.path} reached Jira`).toBe(before + 1);
    if (!b.query) expect(r.status, `${b.user} ${b.path}`).toBe(200);
  }
  for (const c of CONTRACTOR_POSTS) {
    const r = await rawRequest(sc.proxyUrl, {
      method: 'POST',
      path: '/rest/api/2/issue',
      headers: [['Authorization', `Bearer ${userToken(c.user, c.groups)}`], ['Content-Type', 'application/json'], ['User-Agent', UA.script]],
      body: '{}',
    });
    expect(r.status).toBe(201); // report mode: not refused
  }
  // Reads by a contractor and a write by someone outside the group: nothing to report.
  expect((await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${userToken('erin', ['contractors'])}`]] })).status).toBe(200);
  expect(
    (await rawRequest(sc.proxyUrl, { method: 'POST', path: '/rest/api/2/issue', headers: [['Authorization', `Bearer ${userToken('grace', ['jira-users'])}`], ['Content-Type', 'application/json']], body: '{}' })).status,
  ).toBe(201);
}

const sent = BASIC.length + CONTRACTOR_POSTS.length + 2;

beforeAll(async () => {
  ensureUiBuilt();
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    credentials: { basic: 'passthrough' },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
    access: { readOnlyGroups: ['contractors'] },
    enforcement: { rules: { 'readOnlyGroups:contractors': 'report' } },
    audit: { flushIntervalMs: 20 },
  });
  admin = new AdminClient(sc.adminUrl);
  expect((await admin.login()).status).toBe(200);
  await sendTraffic();
  // The audit log is written off the request path: wait until every request is readable.
  await until(async () => ((await admin.get('/api/audit?limit=1000')).body.items as unknown[]).length >= sent, 'the audit rows');
  ctx = await launchBrowser({ width: 1280, height: 800 });
  page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(sc.adminUrl);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByText('Signed in as').waitFor();
}, 90_000);

afterAll(async () => {
  await ctx?.close();
  await sc?.close();
  await issuer?.close();
  await upstream?.close();
});

const card = (id: string): Locator => page.locator(`section.switch[data-switch="${id}"]`);
const tableNames = (c: Locator, table: string) => c.locator(`[data-table="${table}"] tbody td.name`).allTextContents();
const tableRows = async (c: Locator, table: string) =>
  Object.fromEntries(
    (await c.locator(`[data-table="${table}"] tbody tr`).evaluateAll((trs) => trs.map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent.trim())))).map((cells: string[]) => [cells[0], Number(cells[1])]),
  );
const config = async () => (await admin.get('/api/config')).body.config;
/** The config page's <dialog>: open or not. */
const confirmOpen = () => page.evaluate(() => Boolean(document.querySelector('dialog.confirm-save')?.open));

describe('safe rollout in the admin UI', () => {
  it('the Readiness page follows "Access rules" in the navigation', async () => {
    const labels = await page.locator('nav a').allTextContents();
    expect(labels.indexOf('Readiness')).toBe(labels.indexOf('Access rules') + 1);
  });

  it('shows who still uses Basic auth: sentence, setting, chart, tables', async () => {
    await go('readiness', 'Readiness');
    const basic = card('credentials:basic');
    await basic.waitFor();
    expect(await page.getByRole('radio', { name: 'Last 7 days' }).isChecked()).toBe(true);
    const verdict = (await basic.locator('.verdict').textContent())!;
    expect(verdict).toContain('Turn off Basic auth (Jira passwords)');
    expect(verdict).toContain(`${basicUsers.length} users used it in the last 7 days`);
    expect(verdict).toContain(`(${BASIC.length} requests)`);
    expect(await basic.locator('dl.facts').textContent()).toContain('credentials.basic: deny');
    expect(await basic.locator('dl.facts').textContent()).toContain('os_username/os_password: 1');
    // Tables: one row per user with the count sent, user agents, paths.
    const users = await tableRows(basic, 'users');
    expect(users).toEqual(Object.fromEntries(basicUsers.map((u) => [u, BASIC.filter((b) => b.user === u).length])));
    expect(new Set(await tableNames(basic, 'userAgents'))).toEqual(new Set(Object.values(UA)));
    // Paths are grouped into templates (issue keys -> {key}); counted from what was sent.
    const paths = Object.entries(await tableRows(basic, 'paths'));
    const count = (suffix: string) => paths.find(([p]) => p.startsWith('GET ') && p.endsWith(suffix))?.[1];
    expect(count('/myself')).toBe(BASIC.filter((b) => b.path.endsWith('/myself')).length);
    expect(count('/issue/{key}')).toBe(BASIC.filter((b) => b.path.includes('/issue/')).length);
    expect(await tableNames(basic, 'addresses')).toEqual(['127.0.0.1']);
    // The chart: an image with a name that says the total; bars; axis labels readable (>= 11px as drawn).
    const chart = basic.locator('series-chart svg[role="img"]');
    await chart.waitFor();
    expect(await chart.getAttribute('aria-label')).toContain(`${BASIC.length} in total`);
    expect(await basic.locator('series-chart rect.bar').count()).toBeGreaterThanOrEqual(7);
    const labels = await basic.locator('series-chart text.axis').evaluateAll((els) =>
      els.map((e: any) => {
        const svg = e.ownerSVGElement;
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        return { text: e.textContent, px: parseFloat(window.getComputedStyle(e).fontSize) * scale };
      }),
    );
    expect(labels.length).toBeGreaterThan(3);
    for (const l of labels) expect(l.px, l.text).toBeGreaterThanOrEqual(11);
    // The report-only rule: its own card, counted from the POSTs of the group's members.
    const rule = card('rule:readOnlyGroups:contractors');
    const ruleVerdict = (await rule.locator('.verdict').textContent())!;
    expect(ruleVerdict).toContain('Enforce readOnlyGroups:contractors');
    expect(ruleVerdict).toContain(`${contractorUsers.length} users would have been refused in the last 7 days (${CONTRACTOR_POSTS.length} requests)`);
    expect(await rule.locator('dl.facts').textContent()).toContain('read_only');
    expect(await tableRows(rule, 'users')).toEqual({ erin: 2, frank: 1 });
    await shot('readiness');
    await basic.screenshot({ path: path.join(SCREENSHOTS, 'readiness-basic-card.png') });
  });

  it('switches the period (hourly buckets for 24 hours) and downloads a switch as CSV', async () => {
    await page.getByRole('radio', { name: 'Last 24 hours' }).check();
    await expect.poll(() => page.evaluate(() => window.location.hash)).toBe('#/readiness?since=24h');
    const basic = card('credentials:basic');
    await expect.poll(async () => (await basic.locator('.verdict').textContent()) ?? '').toContain('in the last 24 hours');
    // The chart redraws after the verdict's text (CI saw the daily chart still there): wait for it too.
    await expect.poll(async () => (await basic.locator('series-chart svg').getAttribute('aria-label')) ?? '').toContain('per hour');
    await expect.poll(async () => (await basic.locator('series-chart text.axis').allTextContents()).some((t) => /^\d\d:00$/.test(t))).toBe(true);
    const [dl] = await Promise.all([page.waitForEvent('download'), basic.getByRole('link', { name: 'Download CSV' }).click()]);
    expect(dl.suggestedFilename()).toBe('readiness-credentials-basic.csv');
    const csv = readFileSync((await dl.path())!, 'utf8');
    expect(csv.split('\r\n')[0]).toBe('dimension,name,requests,first_seen,last_seen');
    for (const u of basicUsers) expect(csv).toContain(`users,${u},`);
    await page.getByRole('radio', { name: 'Last 7 days' }).check();
    await expect.poll(async () => (await basic.locator('.verdict').textContent()) ?? '').toContain('in the last 7 days');
  });

  it('"Show in audit log" opens the audit log filtered to the Basic rows, then to the would-deny rows', async () => {
    await card('credentials:basic').getByRole('link', { name: 'Show in audit log' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    expect(await page.evaluate(() => window.location.hash)).toBe('#/audit?credentialKind=basic');
    expect(await page.getByLabel('Credential kind').inputValue()).toBe('basic');
    await page.locator('table.audit[aria-busy="false"]').waitFor();
    const users = () => page.locator('table.audit tbody tr td:nth-child(7)').allTextContents();
    await expect.poll(async () => (await users()).length).toBe(BASIC.length);
    // Passthrough Basic is not verified: the row has no user; the page shows the rows of Basic requests only.
    expect((await page.locator('table.audit tbody td.path').allTextContents()).sort()).toEqual(BASIC.map((b) => b.path).sort());
    await shot('audit-filtered-basic');

    await go('readiness', 'Readiness');
    await card('rule:readOnlyGroups:contractors').getByRole('link', { name: 'Show in audit log' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    expect(await page.getByLabel('Would deny (report-only)').inputValue()).toBe('read_only');
    await expect.poll(async () => (await users()).sort()).toEqual(CONTRACTOR_POSTS.map((c) => c.user).sort());
    expect(await page.locator('table.audit .badge.would-deny').count()).toBe(CONTRACTOR_POSTS.length);
    await shot('audit-filtered-would-deny');

    // The new fields filter too, and an applied filter is written to the address.
    await page.getByLabel('Would deny (report-only)').fill('');
    await page.getByLabel('Credential kind').selectOption('jwt');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.evaluate(() => window.location.hash)).toBe('#/audit?credentialKind=jwt');
    await expect.poll(async () => (await users()).length).toBe(CONTRACTOR_POSTS.length + 2);
  });

  it('report-only rules have fields on the Access rules page; a change that refuses nothing saves at once', async () => {
    await go('access', 'Access rules');
    const rules = page.getByLabel('Per-rule modes');
    expect(await rules.inputValue()).toBe('readOnlyGroups:contractors = report');
    expect(await page.getByLabel('Mode of every rule not listed below').inputValue()).toBe('enforce');
    // Inline feedback while typing.
    await rules.fill('readOnlyGroups:contractors = report\nlockdown = maybe');
    await page.locator('[data-path="enforcement.rules"] .error').filter({ hasText: 'enforce or report' }).waitFor();
    await rules.fill('readOnlyGroups:contractors = report\nlockdown = report');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(/Saved 1 change/).waitFor();
    expect(await confirmOpen()).toBe(false);
    expect(await page.locator('section.preview').textContent()).toContain('This change would have changed nothing in the last 7 days');
    expect((await config()).enforcement.rules).toEqual({ 'readOnlyGroups:contractors': 'report', lockdown: 'report' });
    await page.getByRole('group', { name: 'Report-only rules' }).screenshot({ path: path.join(SCREENSHOTS, 'access-report-only-rules.png') });
  });

  it('enforcing the report-only rule shows who it would refuse; Cancel keeps it unsaved', async () => {
    const rules = page.getByLabel('Per-rule modes');
    await rules.fill('readOnlyGroups:contractors = enforce\nlockdown = report');
    await page.getByRole('button', { name: 'Save' }).click();
    const dialog = page.getByRole('dialog', { name: 'Save a change that refuses requests?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(`This change would have refused ${CONTRACTOR_POSTS.length} requests from ${contractorUsers.length} users in the last 7 days.`);
    expect(await dialog.locator('table.by-code').textContent()).toContain('read_only');
    await shot('save-preview-enforce-rule', false); // the modal covers the window: a window-sized shot
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('Not saved. Your changes are still here.').waitFor();
    expect(await confirmOpen()).toBe(false);
    expect((await config()).enforcement.rules['readOnlyGroups:contractors']).toBe('report');
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await expect.poll(() => rules.inputValue()).toBe('readOnlyGroups:contractors = report\nlockdown = report');
  });

  it('turning off Basic auth previews the refusals, asks, and saves only after confirming', async () => {
    await go('authentication', 'Authentication');
    await page.getByLabel('Basic authentication', { exact: true }).selectOption('deny');
    await page.getByRole('button', { name: 'Save' }).click();
    const dialog = page.getByRole('dialog', { name: 'Save a change that refuses requests?' });
    await dialog.waitFor();
    const sentence = `This change would have refused ${BASIC.length} requests from ${basicUsers.length} users in the last 7 days.`;
    expect(await dialog.textContent()).toContain(sentence);
    expect(await dialog.locator('table.by-code').textContent()).toContain('credential_kind_denied');
    // Escape is "Cancel" too.
    await page.keyboard.press('Escape');
    await page.getByText('Not saved. Your changes are still here.').waitFor();
    expect((await config()).credentials.basic).toBe('passthrough');

    await page.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor();
    await shot('save-preview-basic-deny', false);
    await dialog.getByRole('button', { name: 'Save anyway' }).click();
    await page.getByText(/Saved 1 change/).waitFor();
    expect((await config()).credentials.basic).toBe('deny');
    // The preview stays beside the Save button: the sentence, the codes and the first changed rows.
    const preview = page.locator('section.preview');
    expect(await preview.textContent()).toContain(sentence);
    await preview.locator('summary').click();
    expect(await preview.locator('table.by-code').textContent()).toContain('credential_kind_denied');
    expect(await preview.locator('table.changes tbody tr').count()).toBe(BASIC.length);
    await shot('save-preview-basic-saved', false);
    // And the proxy obeys.
    expect((await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', basicAuth('alice')]] })).status).toBe(401);
  });

  it('turning Basic back to passthrough refuses nothing and saves without asking', async () => {
    await page.getByLabel('Basic authentication', { exact: true }).selectOption('passthrough');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(/Saved 1 change/).waitFor();
    expect(await confirmOpen()).toBe(false);
    // Compared with the current config (Basic denied) replayed the same way: every recorded Basic
    // request (7 before the switch, alice's refused one after it once its row is written) gets through again.
    expect(await page.locator('section.preview .preview-sentence').textContent()).toMatch(/^This change would have refused nothing more in the last 7 days; it would have let through [78] requests that were refused\./);
    expect((await config()).credentials.basic).toBe('passthrough');
  });

  it('an invalid change still shows the server\'s message beside its field (the preview falls through)', async () => {
    await go('access', 'Access rules');
    await page.getByLabel('Per-rule modes').fill('readOnlyGroups:contractors = report\nnoSuchFamily = report');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('[data-path="enforcement.rules"] .error').filter({ hasText: 'noSuchFamily' }).waitFor();
    await page.getByText(/Not saved: (a problem|\d+ problems), shown next to Per-rule modes/).waitFor();
    expect(await confirmOpen()).toBe(false);
    await page.getByRole('button', { name: 'Discard changes' }).click();
  });

  it('shows the empty state when there is nothing in the period', async () => {
    // A second sidecar with no traffic at all.
    const empty = await startTestSidecar(upstream.url, { audit: { flushIntervalMs: 20 } });
    // Its own browser profile: cookies are per host, not per port, and this page must keep its session.
    const ctx2 = await launchBrowser({ width: 1280, height: 800 });
    try {
      const p2 = await ctx2.newPage();
      await p2.goto(`${empty.adminUrl}/#/readiness`);
      await p2.getByLabel('Password').fill(ADMIN_PASSWORD);
      await p2.keyboard.press('Enter');
      await p2.getByRole('heading', { level: 1, name: 'Readiness' }).waitFor();
      await p2.getByRole('heading', { level: 2, name: 'Nothing to prepare' }).waitFor();
      expect(await p2.locator('section.switch').count()).toBe(0);
      await p2.screenshot({ path: path.join(SCREENSHOTS, 'readiness-empty.png'), fullPage: true });
    } finally {
      await ctx2.close();
      await empty.close();
    }
  });

  it('the Readiness page fits a narrow window', async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await go('readiness', 'Readiness');
    await card('credentials:basic').waitFor();
    const overflowing = await page.evaluate(() =>
      ([...document.querySelectorAll('body *')] as any[])
        .filter((el) => !el.closest('.table-wrap') && el.getBoundingClientRect().right > window.innerWidth + 1)
        .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`),
    );
    expect(overflowing).toEqual([]);
    // The chart is redrawn at its new width: the labels keep their size.
    await expect
      .poll(() =>
        card('credentials:basic')
          .locator('series-chart text.axis')
          .first()
          .evaluate((e: any) => e.ownerSVGElement.getBoundingClientRect().width / e.ownerSVGElement.viewBox.baseVal.width),
      )
      .toBeCloseTo(1, 1);
    await shot('readiness-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('ran without script errors, browser dialogs or Content-Security-Policy violations', () => {
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(consoleErrors.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([]);
  });
});
