// Token requests in the admin UI (headless Debian Chromium, real sidecar, local JWT issuer): users
// ask on /_sidecar/tokens (apiTokens.approval required), the Tokens nav entry shows the pending
// count, and an admin approves or denies each request from the Tokens page with a comment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { ADMIN_PASSWORD, AdminClient } from '../helpers/admin.js';
import { ensureUiBuilt, launchBrowser, SCREENSHOTS, watchPage, type PageTrouble } from '../helpers/browser.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;
let ctx: BrowserContext;
let page: Page;
let trouble: PageTrouble;

const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
const go = async (hash: string, heading: string) => {
  await page.click(`nav a[href="#/${hash}"]`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
};
const jwtFor = (username: string) => `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: `id-${username}`, preferred_username: username, groups: ['jira-developers'] })}`;

async function proxy(method: string, p: string, who: string, body?: unknown) {
  const res = await fetch(sc.proxyUrl + p, { method, headers: { authorization: jwtFor(who), 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as any };
}
const ask = async (who: string, name: string, justification: string) => {
  const r = await proxy('POST', '/_sidecar/tokens', who, { name, justification, paths: ['/rest/api/2/*'], days: 14 });
  expect(r.status).toBe(202);
  return r.json as { id: string };
};
const badge = () => page.locator('nav a[href="#/tokens"] .badge');

beforeAll(async () => {
  ensureUiBuilt();
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    apiTokens: { creatorGroups: ['jira-developers'], approval: 'required' },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
  ctx = await launchBrowser();
  page = await ctx.newPage();
  trouble = watchPage(page);
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

describe('token requests in the admin UI', () => {
  let alices: { id: string };
  let carols: { id: string };

  it('shows the pending count on the Tokens entry and the requests on the Tokens page', async () => {
    alices = await ask('alice', 'nightly sync', 'syncs issues to the team dashboard');
    carols = await ask('carol', 'bulk editor', 'mass-relabels old tickets');
    await page.goto(sc.adminUrl);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByText('Signed in as').waitFor();
    await badge().filter({ hasText: '2' }).waitFor();
    expect(await page.locator('nav a[href="#/tokens"]').textContent()).toContain('2 pending requests');

    await go('tokens', 'Tokens');
    const section = page.locator('section', { has: page.getByRole('heading', { name: 'Pending requests' }) });
    const row = section.locator(`tr[data-request="${alices.id}"]`);
    await row.waitFor();
    for (const text of ['alice', 'nightly sync', 'read-write; paths: /rest/api/2/*', '14 days', 'syncs issues to the team dashboard']) expect(await row.textContent()).toContain(text);
    await section.locator(`tr[data-request="${carols.id}"]`).waitFor();
    await shot('token-requests-pending');
  });

  it('approves with a comment: the badge drops and the owner can claim the token', async () => {
    await page.getByLabel('Comment on "nightly sync" (alice)').fill('ok until the migration is done');
    await page.getByRole('button', { name: 'Approve nightly sync of alice' }).click();
    await page.getByText('Approved "nightly sync" for alice').waitFor();
    await page.locator(`tr[data-request="${alices.id}"]`).waitFor({ state: 'detached' });
    await badge().filter({ hasText: '1' }).waitFor();

    const mine = await proxy('GET', `/_sidecar/tokens/requests/${alices.id}`, 'alice');
    expect(mine.json).toMatchObject({ status: 'approved', decidedBy: 'admin', comment: 'ok until the migration is done' });
    const claimed = await proxy('POST', `/_sidecar/tokens/requests/${alices.id}/claim`, 'alice');
    expect(claimed.status).toBe(201);
    const used = await fetch(`${sc.proxyUrl}/rest/api/2/myself`, { headers: { authorization: `Bearer ${claimed.json.token}` } });
    expect(used.status).toBe(200);
  });

  it('deny asks for a comment first, then denies with it; the requester sees the reason', async () => {
    await page.getByRole('button', { name: 'Deny bulk editor of carol' }).click();
    await page.getByRole('alert').filter({ hasText: 'A comment is required to deny' }).waitFor();
    expect((await proxy('GET', `/_sidecar/tokens/requests/${carols.id}`, 'carol')).json.status).toBe('pending');
    await shot('token-requests-deny-needs-comment');
    await page.getByLabel('Comment on "bulk editor" (carol)').fill('ask your lead for a scoped token');
    await page.getByRole('button', { name: 'Deny bulk editor of carol' }).click();
    await page.getByText('Denied "bulk editor" for carol').waitFor();
    await page.getByText('No pending requests.').waitFor();
    await badge().waitFor({ state: 'detached' });
    const seen = await proxy('GET', `/_sidecar/tokens/requests/${carols.id}`, 'carol');
    expect(seen.json).toMatchObject({ status: 'denied', comment: 'ask your lead for a scoped token' });
    await shot('token-requests-decided');
  });

  it('a new request shows on the badge after navigating', async () => {
    await ask('dave', 'reporting', 'weekly report');
    await go('overview', 'Overview');
    await badge().filter({ hasText: '1' }).waitFor();
    await go('tokens', 'Tokens');
    await page.getByRole('cell', { name: 'weekly report' }).waitFor();
  });

  it('the Authentication page has the approval settings', async () => {
    await go('authentication', 'Authentication');
    expect(await page.getByLabel('Approval of self-service tokens').inputValue()).toBe('required');
    await page.getByLabel('Groups exempt from approval').waitFor();
  });

  it('rotates a token from the Tokens page: the new secret is shown once, the old one keeps working for the overlap', async () => {
    const admin = new AdminClient(sc.adminUrl);
    await admin.login();
    const made = (await admin.call('POST', '/api/tokens', { owner: 'erin', name: 'zapier' })).body as { id: string; token: string };
    await go('overview', 'Overview');
    await go('tokens', 'Tokens');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Rotate zapier' }).click();
    await page.getByText(`Rotated ${made.id}`).waitFor();
    const fresh = await page.locator('#new-token').inputValue();
    expect(fresh).toMatch(/^jas_/);
    expect(fresh).not.toBe(made.token);
    for (const t of [fresh, made.token]) expect((await fetch(`${sc.proxyUrl}/rest/api/2/myself`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
    await shot('token-rotated');
  });

  it('ran without script errors or Content-Security-Policy violations', () => {
    expect(trouble.pageErrors).toEqual([]);
    expect(trouble.cspViolations()).toEqual([]);
  });
});
