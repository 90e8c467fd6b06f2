// The demo's authentication plugin against a real sidecar: every curl line it prints does what its
// comment says (alice and the service principal reach Jira as themselves, bob is read-only, the API
// token works, the expired token is refused before Jira).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { demoAuthPlugin, type DemoAuthPlugin } from '../../src/demo/auth-plugin.js';
import { startTestSidecar, tempDir, type TestSidecar } from '../helpers/sidecar.js';
import { rawRequest, type RawResponse } from '../helpers/http.js';

let upstream: JiraUpstream;
let plugin: DemoAuthPlugin;
let sidecar: TestSidecar;
const dataDir = tempDir();

const bodyOf = (r: RawResponse) => JSON.parse(r.body.toString()) as Record<string, any>;
const bearer = (t: string): Array<[string, string]> => [['Authorization', `Bearer ${t}`]];

beforeAll(async () => {
  upstream = await startJiraUpstream();
  plugin = (await demoAuthPlugin({ upstream, dataDir })) as DemoAuthPlugin;
  sidecar = await startTestSidecar(upstream.url, plugin.config, { dataDir });
});
afterAll(async () => {
  await sidecar?.close();
  await plugin?.close?.();
  await upstream?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('demo authentication plugin', () => {
  it('prints a curl line for each token', () => {
    const text = plugin.describe!({ upstream: upstream.url, proxy: sidecar.proxyUrl, admin: sidecar.adminUrl }).join('\n');
    for (const t of Object.values(plugin.tokens)) expect(text).toContain(t);
  });

  it.each([
    ['alice', 'alice'],
    ['servicePrincipal', 'svc-integration'],
    ['apiToken', 'alice'],
  ] as const)('%s reaches Jira as %s', async (which, user) => {
    const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/api/2/myself', headers: bearer(plugin.tokens[which]) });
    expect(r.status).toBe(200);
    expect(bodyOf(r).name).toBe(user);
  });

  it('bob reads but cannot write', async () => {
    expect((await rawRequest(sidecar.proxyUrl, { path: '/rest/api/2/myself', headers: bearer(plugin.tokens.bob) })).status).toBe(200);
    const w = await rawRequest(sidecar.proxyUrl, { method: 'POST', path: '/rest/api/2/issue', headers: [...bearer(plugin.tokens.bob), ['Content-Type', 'application/json']], body: '{"fields":{}}' });
    expect({ status: w.status, code: bodyOf(w).error }).toEqual({ status: 403, code: 'read_only' });
  });

  it('the expired token is refused before Jira', async () => {
    const before = upstream.seen.length;
    const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/api/2/myself', headers: bearer(plugin.tokens.expired) });
    expect({ status: r.status, code: bodyOf(r).error }).toEqual({ status: 401, code: 'token_expired' });
    expect(upstream.seen.length).toBe(before);
  });
});
