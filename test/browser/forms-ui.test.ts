// The settings forms as a Jira admin uses them (issue 22), in headless Chromium against a real
// sidecar: Authentication in sections with a table of contents (1280x800 and 390x844), OAuth 1.0a
// fields hidden in header mode (and saved unchanged), JWT algorithms picked from a list, a username
// regex checked while typing, rate limits in words, and one plain message per problem after a save.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { ADMIN_PASSWORD } from '../helpers/admin.js';
import { ensureUiBuilt, launchBrowser, SCREENSHOTS } from '../helpers/browser.js';
import { startTestIssuer } from '../helpers/issuer.js';
import type { TokenIssuer } from '../../src/demo/token-issuer.js';

// Browser globals inside page.evaluate callbacks (the test tsconfig has no DOM lib).
declare const window: any;
declare const document: any;

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

/** Everything beforeAll starts (upstream, issuer, sidecar, browser), closed last first by afterAll. */
const started: Array<{ close(): Promise<unknown> }> = [];
let sc: TestSidecar;
let ctx: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const shot = (name: string, p: Page = page) => p.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
const go = async (hash: string, heading: string, p: Page = page) => {
  await p.click(`nav a[href="#/${hash}"]`);
  await p.getByRole('heading', { level: 1, name: heading }).waitFor();
};
const serverConfig = (p: Page = page): Promise<any> => p.evaluate(async () => ((await (await fetch('/api/config')).json()) as any).config);
/** PUT /api/config from the page (the session's CSRF token): the status and the JSON answer. */
const putConfig = (doc: unknown): Promise<{ status: number; body: any }> =>
  page.evaluate(async (d: unknown) => {
    const s = (await (await fetch('/api/session')).json()) as { csrfToken: string };
    const r = await fetch('/api/config', { method: 'PUT', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify(d) });
    return { status: r.status, body: await r.json() };
  }, doc);
/** Save, confirming the replay dialog if the change would have refused a recorded request. */
const save = async (p: Page = page) => {
  await p.locator('form.config .actions.sticky').getByRole('button', { name: 'Save', exact: true }).click();
};
const saved = async (p: Page = page) => {
  const anyway = p.getByRole('dialog').getByRole('button', { name: 'Save anyway' });
  await anyway.or(p.getByText(/Saved \d+ change/)).first().waitFor();
  if (await anyway.isVisible()) await anyway.click();
  await p.getByText(/Saved \d+ change/).waitFor();
};
const heading = (id: string, p: Page = page) => p.locator(`#${id}-h`);
const current = (p: Page = page) => p.locator('nav.toc a[aria-current="true"]').getAttribute('data-section');

beforeAll(async () => {
  ensureUiBuilt();
  const upstream: JiraUpstream = await startJiraUpstream();
  started.push(upstream);
  const issuer: TokenIssuer = await startTestIssuer();
  started.push(issuer);
  sc = await startTestSidecar(upstream.url, {
    admin: { sessionTtlSec: 86400 },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
    // OAuth 1.0a settings written earlier, while the mode is header: hidden, and kept by every save.
    upstream: { identity: { mode: 'header', oauth1: { consumerKey: 'jira-sidecar-link', jiraBaseUrl: 'https://jira.example.com', maxFormBodyBytes: 2048 } } },
  });
  started.push(sc);
  ctx = await launchBrowser();
  started.push(ctx);
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // Signed in through the API (the login form has its own tests): the cookie is the browser's.
  await page.goto(sc.adminUrl);
  const login = await page.evaluate(async (password: string) => (await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) })).status, ADMIN_PASSWORD);
  expect(login).toBe(200);
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}, 60_000);

afterAll(async () => {
  for (const running of started.reverse()) await running.close();
});

describe('Authentication in sections (issue 22)', () => {
  const SECTIONS = ['auth-kinds', 'auth-jwt', 'auth-introspection', 'auth-api-tokens', 'auth-self-service', 'auth-lookup'];

  it('at 1280x800: a table of contents beside the sections; a link jumps to its section, focuses its heading and marks it current', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await go('authentication', 'Authentication');
    const toc = page.getByRole('navigation', { name: 'Sections on this page' });
    await toc.waitFor();
    expect(await toc.locator('a').evaluateAll((as) => as.map((a: any) => a.dataset.section))).toEqual(SECTIONS);
    // Every section is a named region with its heading.
    for (const id of SECTIONS) expect(await page.locator(`section#${id}[aria-labelledby="${id}-h"]`).count(), id).toBe(1);
    expect(await page.getByRole('region', { name: 'JWT issuers' }).count()).toBe(1);
    // Beside the sections, and still in view after scrolling down (sticky).
    const tocBox = (await toc.boundingBox())!;
    const secBox = (await page.locator('section#auth-kinds').boundingBox())!;
    expect(tocBox.x + tocBox.width).toBeLessThanOrEqual(secBox.x);
    expect(await current()).toBe('auth-kinds');
    await toc.getByRole('link', { name: 'Token introspection' }).click();
    const top = await heading('auth-introspection').evaluate((h: any) => h.getBoundingClientRect().top);
    expect(top).toBeGreaterThanOrEqual(0);
    expect(top).toBeLessThan(100);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('auth-introspection-h');
    await expect.poll(() => current()).toBe('auth-introspection');
    expect(await page.evaluate(() => window.location.hash)).toBe('#/authentication?section=auth-introspection');
    const stuck = (await toc.boundingBox())!;
    expect(stuck.y).toBeGreaterThanOrEqual(0);
    expect(stuck.y).toBeLessThan(40);
    // Still on the Authentication page (the link did not go through the hash router).
    await page.getByRole('heading', { level: 1, name: 'Authentication' }).waitFor();
    await shot('authentication-sections');
    // Scrolling by hand moves the mark: back at the top, the first section is current.
    await page.mouse.wheel(0, -20_000);
    await expect.poll(() => current()).toBe('auth-kinds');
    await page.keyboard.press('End');
    await expect.poll(() => current()).toBe('auth-lookup');
    // The last sections, too short to reach the top, are still reachable and marked.
    await toc.getByRole('link', { name: 'Self-service page' }).click();
    await expect.poll(() => current()).toBe('auth-self-service');
    const h = await heading('auth-self-service').evaluate((el: any) => el.getBoundingClientRect().top);
    expect(h).toBeGreaterThanOrEqual(0);
    expect(h).toBeLessThan(800);
  });

  it('a deep link opens the page at its section', async () => {
    const p = await ctx.newPage();
    await p.setViewportSize({ width: 1280, height: 800 });
    await p.goto(`${sc.adminUrl}/#/authentication?section=auth-api-tokens`);
    await p.getByRole('heading', { level: 1, name: 'Authentication' }).waitFor();
    await expect.poll(() => current(p)).toBe('auth-api-tokens');
    const top = await heading('auth-api-tokens', p).evaluate((el: any) => el.getBoundingClientRect().top);
    expect(top).toBeGreaterThanOrEqual(0);
    expect(top).toBeLessThan(100);
    await p.close();
  });

  it('at 390x844: the links sit above the sections, each on screen, and jump; nothing scrolls sideways', async () => {
    const phone = await ctx.newPage();
    phone.setDefaultTimeout(10_000);
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${sc.adminUrl}/#/authentication`);
    await phone.getByRole('heading', { level: 1, name: 'Authentication' }).waitFor();
    const toc = phone.getByRole('navigation', { name: 'Sections on this page' });
    await toc.waitFor();
    const tocBox = (await toc.boundingBox())!;
    const first = (await phone.locator('section#auth-kinds').boundingBox())!;
    expect(tocBox.y + tocBox.height).toBeLessThanOrEqual(first.y);
    for (const a of await toc.getByRole('link').all()) {
      const b = (await a.boundingBox())!;
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(390);
      expect(b.height).toBeGreaterThanOrEqual(24); // a finger-sized target
    }
    await shot('authentication-sections-phone', phone);
    await toc.getByRole('link', { name: 'Jira user lookup' }).click();
    await expect.poll(() => phone.evaluate(() => document.activeElement?.id)).toBe('auth-lookup-h');
    const top = await heading('auth-lookup', phone).evaluate((el: any) => el.getBoundingClientRect().top);
    expect(top).toBeGreaterThanOrEqual(0);
    expect(top).toBeLessThan(844);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await phone.close();
  });
});

describe('fields of features not in use are hidden, and kept (issue 22)', () => {
  const oauth1Fields = () => page.locator('[data-path^="upstream.identity.oauth1."]');

  it('OAuth 1.0a fields show only while some identity is sent with oauth1-impersonation; hidden values are saved unchanged', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await go('settings', 'Settings');
    const mode = page.locator('[data-path="upstream.identity.mode"] select');
    await mode.waitFor();
    expect(await mode.inputValue()).toBe('header');
    expect(await oauth1Fields().count()).toBe(0);
    await page.locator('[data-oauth1-hidden]').waitFor();
    // The mode: the fields appear, with the values from the file.
    await mode.selectOption('oauth1-impersonation');
    await page.locator('[data-oauth1-fields]').waitFor();
    expect(await page.getByLabel('OAuth 1.0a consumer key').inputValue()).toBe('jira-sidecar-link');
    expect(await oauth1Fields().count()).toBe(6);
    await mode.selectOption('header');
    await page.locator('[data-oauth1-fields]').waitFor({ state: 'detached' });
    // A per-issuer mode needs them too.
    await page.getByLabel('Mode per issuer').fill('test = oauth1-impersonation');
    await page.locator('[data-oauth1-fields]').waitFor();
    await page.getByLabel('Mode per issuer').fill('');
    await page.locator('[data-oauth1-fields]').waitFor({ state: 'detached' });
    // Save another setting while they are hidden: they are sent and stored as they were.
    const before = await serverConfig();
    await page.getByLabel('Response timeout (ms)').fill('4000');
    await save();
    await saved();
    const after = await serverConfig();
    expect(after.upstream.timeoutMs).toBe(4000);
    expect(after.upstream.identity.oauth1).toEqual(before.upstream.identity.oauth1);
    expect(after.upstream.identity.oauth1).toMatchObject({ consumerKey: 'jira-sidecar-link', jiraBaseUrl: 'https://jira.example.com', maxFormBodyBytes: 2048 });
    expect(await oauth1Fields().count()).toBe(0);
    await shot('settings-oauth1-hidden');
  });
});

describe('JWT algorithms and the username regex (issue 22)', () => {
  const issuerCard = () => page.locator('fieldset.issuer').first();

  it('algorithms are picked from the list the schema accepts; none picked is said while choosing', async () => {
    await go('authentication', 'Authentication');
    const group = issuerCard().getByRole('group', { name: 'Signature algorithms' });
    await group.waitFor();
    const boxes = group.getByRole('checkbox');
    expect(await boxes.evaluateAll((els) => els.map((e: any) => e.value))).toEqual(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
    expect(await group.getByRole('checkbox', { name: 'RS256' }).isChecked()).toBe(true);
    expect(await issuerCard().locator('textarea[id$="algorithms"]').count()).toBe(0); // nothing to type
    await group.getByRole('checkbox', { name: 'RS256' }).uncheck();
    await expect.poll(() => page.locator('[data-path="jwt.issuers[0].algorithms"] .error').textContent()).toBe('Pick at least one.');
    await group.getByRole('checkbox', { name: 'ES256' }).check();
    await group.getByRole('checkbox', { name: 'PS256' }).check();
    expect(await page.locator('[data-path="jwt.issuers[0].algorithms"] .error').textContent()).toBe('');
    await group.scrollIntoViewIfNeeded();
    await shot('authentication-algorithms');
    await save();
    await saved();
    expect((await serverConfig()).jwt.issuers[0].algorithms).toEqual(['PS256', 'ES256']); // in the list's order
    // Back to RS256 (the test issuer signs with it).
    await group.getByRole('checkbox', { name: 'RS256' }).check();
    await group.getByRole('checkbox', { name: 'PS256' }).uncheck();
    await group.getByRole('checkbox', { name: 'ES256' }).uncheck();
    await save();
    await saved();
    expect((await serverConfig()).jwt.issuers[0].algorithms).toEqual(['RS256']);
  });

  it('a username regex is checked while typing, in plain words, before anything is sent', async () => {
    await go('authentication', 'Authentication');
    const field = issuerCard().getByLabel('Username regex');
    const err = page.locator('[data-path="jwt.issuers[0].usernameRegex"] .error');
    let puts = 0;
    const count = (r: any) => {
      if (r.method() === 'PUT' || r.url().endsWith('/api/replay')) puts++;
    };
    page.on('request', count);
    await field.fill('^([^@]+@');
    await expect.poll(() => err.textContent()).toContain('This is not a valid regular expression (unterminated group)');
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    await field.fill('^[^@]+@');
    await expect.poll(() => err.textContent()).toBe('Add a capture group: the part in ( ) becomes the Jira username, e.g. ^([^@]+)@');
    await shot('authentication-regex');
    await field.fill('^([^@]+)@');
    await expect.poll(() => err.textContent()).toBe('');
    expect(await field.getAttribute('aria-invalid')).toBe('false');
    expect(puts).toBe(0);
    page.off('request', count);
    await page.getByRole('button', { name: 'Discard changes' }).click();
    // The server says the same, plainly, to the admin API and `config validate`.
    const cfg = await serverConfig();
    cfg.jwt.issuers[0].usernameRegex = '^([^@]+@';
    const r = await putConfig(cfg);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('config_invalid');
    expect(r.body.issues).toEqual([{ path: 'jwt.issuers[0].usernameRegex', message: 'not a valid regular expression (unterminated group)' }]);
  });
});

describe('rate limits in words (issue 22)', () => {
  const HINT = 'write a rate limit like "100 per minute" (or "5 per second", "1000 per hour", "10 per 30 seconds")';

  it('the admin API takes "jira-users: 100 per minute" and refuses a phrase it cannot read with one plain message', async () => {
    const cfg = await serverConfig();
    const ok = await putConfig({ ...cfg, rateLimit: { ...cfg.rateLimit, groups: { 'jira-users': '100 per minute' }, clients: { reports: '10 per 30 seconds' } } });
    expect(ok.status).toBe(200);
    const now = await serverConfig();
    expect(now.rateLimit.groups).toEqual({ 'jira-users': { points: 100, durationSec: 60 } });
    expect(now.rateLimit.clients).toEqual({ reports: { points: 10, durationSec: 30 } });
    const bad = await putConfig({ ...now, rateLimit: { ...now.rateLimit, groups: { 'jira-users': 'a hundred a minute' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('config_invalid');
    expect(bad.body.issues).toEqual([{ path: 'rateLimit.groups.jira-users', message: HINT }]);
  });

  it('the Rate limits page shows and takes overrides and the default limit in words', async () => {
    await go('rate-limits', 'Rate limits');
    const groups = page.getByLabel('Per group');
    await expect.poll(() => groups.inputValue()).toBe('jira-users = 100 per minute');
    expect(await page.getByLabel('Per client application').inputValue()).toBe('reports = 10 per 30 seconds');
    // A phrase that cannot be read is said while typing.
    await groups.fill('jira-users = lots');
    await expect.poll(() => page.locator('[data-path="rateLimit.groups"] .error').textContent()).toContain('jira-users: write a rate limit like "100 per minute"');
    await groups.fill('jira-users = 1000 per hour\nbots = 5 per second');
    await expect.poll(() => page.locator('[data-path="rateLimit.groups"] .error').textContent()).toBe('');
    // The default window in words fills in the two numbers.
    const words = page.getByLabel('Default limit (window), in words');
    expect(await words.inputValue()).toBe('600 per minute'); // the defaults, 600 per 60 s
    await words.fill('50 per 30 seconds');
    await expect.poll(() => page.getByLabel('Requests allowed (window)').inputValue()).toBe('50');
    expect(await page.getByLabel('Per this many seconds (window)').inputValue()).toBe('30');
    await words.fill('often');
    await expect.poll(() => page.locator('#rl-words-err').textContent()).toContain('Write a rate limit like "100 per minute"');
    await words.fill('50 per 30 seconds');
    await shot('rate-limits-words');
    await save();
    await saved();
    const cfg = await serverConfig();
    expect(cfg.rateLimit.groups).toEqual({ 'jira-users': { points: 1000, durationSec: 3600 }, bots: { points: 5, durationSec: 1 } });
    expect([cfg.rateLimit.points, cfg.rateLimit.durationSec]).toEqual([50, 30]);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Rate limits' }).waitFor();
    await expect.poll(() => page.getByLabel('Per group').inputValue()).toBe('jira-users = 1000 per hour\nbots = 5 per second');
    expect(await page.getByLabel('Default limit (window), in words').inputValue()).toBe('50 per 30 seconds');
  });
});

describe('one plain message per problem after a failed save (issue 22)', () => {
  /** What the page says about problems (field messages, the status, the list of others). */
  const problemsText = async () => (await page.locator('main .error, main .status, main .issues').allTextContents()).join('\n');
  /** No codes, indexes or schema words. */
  const expectPlain = (text: string) => {
    expect(text).not.toMatch(/\[\d+\]:/);
    expect(text).not.toMatch(/\((bad_request|config_invalid|\w+_\w+)\)/);
    expect(text).not.toMatch(/mapping/i);
  };

  it('a bad address: the message once, beside its field, by line; the status in words', async () => {
    await go('access', 'Access rules');
    const allow = page.getByLabel('IP allow-list', { exact: true });
    await allow.fill('10.0.0.0/8\n10.0.0.0/99');
    const err = page.locator('[data-path="access.ipAllowlist"] .error');
    await expect.poll(() => err.textContent()).toContain('10.0.0.0/99');
    await save();
    await expect.poll(() => page.locator('.actions.sticky .status.error').textContent()).toBe('Not saved: a problem, shown next to IP allow-list.');
    await expect.poll(() => err.locator('div').allTextContents()).toEqual(['Line 2: "10.0.0.0/99" is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)']);
    expect(await allow.getAttribute('aria-invalid')).toBe('true');
    expectPlain(await problemsText());
    await shot('access-save-error-plain');
    await page.getByRole('button', { name: 'Discard changes' }).click();
  });

  it('an issuer without an audience: the message beside "Audiences (aud)", not its path', async () => {
    await go('authentication', 'Authentication');
    const aud = page.locator('fieldset.issuer').first().getByLabel('Audiences (aud)');
    await aud.fill('');
    await save();
    const err = page.locator('[data-path="jwt.issuers[0].audiences"] .error');
    await expect.poll(() => err.textContent()).toBe('list at least one audience (the aud your API is registered with)');
    // The status names the field by its label, as the form shows it.
    expect(await page.locator('.actions.sticky .status.error').textContent()).toBe('Not saved: a problem, shown next to Audiences (aud).');
    await expect.poll(() => page.evaluate(() => document.activeElement?.closest('[data-path]')?.getAttribute('data-path'))).toBe('jwt.issuers[0].audiences');
    const problems = await problemsText();
    expectPlain(problems);
    expect(problems).not.toContain('jwt.issuers');
    expect(await page.locator('.issues').count()).toBe(0); // nothing listed away from its field
    // Typing again: the server's message gives way.
    await aud.fill('jira-sidecar');
    await expect.poll(() => err.textContent()).toBe('');
    await page.getByRole('button', { name: 'Discard changes' }).click();
  });

  it('a group of settings given as a list, in the raw editor: plain words, no "mapping"', async () => {
    await go('raw-config', 'Raw configuration');
    const raw = page.getByLabel('Configuration JSON');
    await expect.poll(async () => (await raw.inputValue()).length).toBeGreaterThan(100);
    const doc = JSON.parse(await raw.inputValue());
    await raw.fill(JSON.stringify({ ...doc, log: [], rateLimit: { ...doc.rateLimit, clients: { reports: 'soon' } } }, null, 2));
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.locator('#raw-issues').textContent()).toContain('must be a group of settings (name: value), not a list');
    const text = (await page.locator('#raw-issues').textContent())!;
    expect(text).toContain('reports: write a rate limit like "100 per minute"'.slice('reports: '.length));
    expect(text).not.toMatch(/mapping/i);
    await page.getByRole('button', { name: 'Discard changes' }).click();
  });

  it('ran without script errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
