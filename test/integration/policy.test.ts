// Authorization and traffic policy through the real proxy: a Jira-like upstream, the local token
// issuer (JWKS) and the sidecar's own JWT verifier. One sidecar, reconfigured per case through
// runtime.applyConfig (the same swap PUT /api/config does). Refused requests must never reach Jira.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { evaluate } from '../../src/pipeline/evaluate.js';
import type { RequestFacts } from '../../src/pipeline/state.js';
import { baseConfig, merge, tempDir } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { json, rawRequest } from '../helpers/http.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sidecar: RunningSidecar;
let dataDir: string;
let logs = '';

const base = () =>
  merge(baseConfig(upstream.url, dataDir), {
    log: { level: 'warn' },
    jwt: {
      issuers: [
        {
          name: 'test',
          issuer: issuer.url,
          audiences: ['jira-sidecar'],
          keys: { jwksUri: issuer.jwksUrl },
          clients: { claim: 'azp', allow: ['app-ok', 'app-other'], jiraAccounts: { 'app-ok': 'svc-integration', 'app-other': 'svc-other' } },
        },
      ],
    },
    access: { readOnlyGroups: ['auditors'] },
  });

function configure(over: unknown = {}) {
  const v = validate(merge(base(), over));
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  sidecar.runtime.applyConfig(v.config);
}

const userToken = (username: string, groups: string[]) => issuer.sign({ aud: 'jira-sidecar', sub: `id-${username}`, preferred_username: username, groups, idtyp: 'user' });
const appToken = (azp: string) => issuer.sign({ aud: 'jira-sidecar', sub: `sp-${azp}`, azp, idtyp: 'app', roles: ['Jira.Access'] });
const bearer = (t: string): [string, string] => ['Authorization', `Bearer ${t}`];

async function call(method: string, path: string, headers: Array<[string, string]> = [], body?: string) {
  const before = upstream.seen.length;
  const r = await rawRequest(sidecar.proxyUrl, { method, path, headers, body });
  const reached = upstream.seen.slice(before);
  const code = r.headers['content-type']?.includes('json') && r.status >= 400 && reached.length === 0 ? (json(r) as { error?: string }).error : undefined;
  return { status: r.status, code, headers: r.headers, reached };
}

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  dataDir = tempDir('policy-it-');
  const v = validate(base());
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const logger = createLogger('warn', { write: (s: string) => void (logs += s) });
  sidecar = await startSidecar({ config: v.config, logger });
});

afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
  await issuer?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(() => configure());

describe('paths are judged as Tomcat routes them', () => {
  beforeEach(() => configure({ bypass: ['/rest/api/2/serverInfo'], publicApiLockdown: { enabled: true, all: true } }));

  it('the bypass works for its own spellings and Jira receives the original bytes', async () => {
    for (const p of ['/rest/api/2/serverInfo', '/rest/api/2/server%49nfo', '//rest/api/2/serverInfo?x=1']) {
      const r = await call('GET', p);
      expect(r.status).toBe(200);
      expect(r.reached.map((s) => s.url)).toEqual([p]);
    }
  });

  const attacks = [
    '/rest/api/2/serverInfo/../myself',
    '/rest/api/2/serverInfo/..;/myself',
    '/rest/api/2/serverInfo;x/../myself',
    '/rest/api/2/serverInfo/%2e%2e/myself',
    '/rest/api/2/serverInfo%2f..%2fmyself',
    '/rest/api/2/serverInfo%5c..%5cmyself',
    '/rest/api/2/serverInfo\\..\\myself',
    '/rest/api/2/serverInfo%00/../myself',
    '/rest/api/2/serverInfo/%252e%252e/myself',
    '/rest/api/2/serverInfo;jsessionid=1',
    'http://jira.example/rest/api/2/serverInfo/../myself',
    '/rest/api/2/serverInfo/../../../../../myself',
  ];
  for (const p of attacks) {
    it(`anonymous ${p} is refused and never reaches Jira`, async () => {
      const r = await call('GET', p);
      expect(r.reached).toEqual([]);
      expect(['lockdown', 'path_invalid']).toContain(r.code);
    });
  }
});

describe('rules through the proxy', () => {
  it('read-only user: reads and read-safe POSTs pass, writes and method overrides are refused', async () => {
    const bob = bearer(userToken('bob', ['jira-users', 'auditors']));
    expect((await call('GET', '/rest/api/2/myself', [bob])).status).toBe(200);
    const search = await call('POST', '/rest/api/2/search', [bob, ['Content-Type', 'application/json']], '{"jql":""}');
    expect(search.status).toBe(200);
    for (const [method, path, extra] of [
      ['POST', '/rest/api/2/issue', []],
      ['PUT', '/rest/api/2/issue/X-1', []],
      ['DELETE', '/rest/api/2/issue/X-1', []],
      ['POST', '/rest/api/2/search', [['X-HTTP-Method-Override', 'DELETE']]],
      ['POST', '/rest/api/2/search', [['X-HTTP-Method', 'PUT']]],
      ['POST', '/rest/api/2/search', [['X-Method-Override', 'PUT']]],
      ['POST', '/rest/api/2/search?_method=DELETE', []],
      ['POST', '/rest/api/2/issue/X-1/..;/../search', []],
    ] as Array<[string, string, Array<[string, string]>]>) {
      // no body on DELETE: node's client sends it unframed there (no chunking for DELETE)
      const r = await call(method, path, [bob, ['Content-Type', 'application/json'], ...extra], method === 'DELETE' ? undefined : '{}');
      expect([method, path, r.status, r.code, r.reached.length]).toEqual([method, path, 403, 'read_only', 0]);
    }
  });

  it('read-only + bypass: the bypass is not authenticated, so no identity is forwarded for the write', async () => {
    configure({ bypass: ['/rest/test/echo'] });
    const r = await call('POST', '/rest/test/echo', [bearer(userToken('bob', ['auditors'])), ['X-Forwarded-User', 'bob']], '{}');
    expect(r.status).toBe(200);
    expect(r.reached[0]!.headers['x-forwarded-user']).toBeUndefined();
  });

  it('lockdown + anonymous passthrough: anonymous is refused only on locked-down paths', async () => {
    configure({ publicApiLockdown: { enabled: true, paths: ['/rest/api/2/project/*'] } });
    const locked = await call('GET', '/rest/api/2/project/ABC');
    expect([locked.status, locked.code, locked.reached.length]).toEqual([403, 'lockdown', 0]);
    const open = await call('GET', '/rest/api/2/myself');
    expect(open.reached.length).toBe(1);
    const withJwt = await call('GET', '/rest/api/2/project/ABC', [bearer(userToken('alice', ['jira-users']))]);
    expect(withJwt.status).toBe(200);
  });

  it('allowedGroups and the client ACL', async () => {
    configure({ access: { allowedGroups: ['jira-developers'] } });
    expect((await call('GET', '/rest/api/2/myself', [bearer(userToken('carol', ['jira-users']))])).code).toBe('group_not_allowed');
    expect((await call('GET', '/rest/api/2/myself', [bearer(userToken('alice', ['jira-developers']))])).status).toBe(200);
    const app = await call('GET', '/rest/api/2/myself', [bearer(appToken('app-ok'))]);
    expect(app.status).toBe(200);
    expect(app.reached[0]!.headers['x-forwarded-user']).toBe('svc-integration');
    const evil = await call('GET', '/rest/api/2/myself', [bearer(appToken('app-evil'))]);
    expect([evil.status, evil.code, evil.reached.length]).toEqual([403, 'client_not_allowed', 0]);
  });

  it('IP allow-list behind trusted proxies, IPv4 and IPv6', async () => {
    const alice = bearer(userToken('alice', ['jira-users']));
    configure({ access: { trustedProxies: ['127.0.0.1/32', '::1/128'], ipAllowlist: ['203.0.113.0/24', '2001:db8::/32'] } });
    const xff = async (v: string) => (await call('GET', '/rest/api/2/myself', [alice, ['X-Forwarded-For', v]])).status;
    expect(await xff('2001:db8::5')).toBe(200);
    expect(await xff('::ffff:203.0.113.9')).toBe(200);
    expect(await xff('6.6.6.6, 203.0.113.5')).toBe(200);
    expect(await xff('203.0.113.5, 6.6.6.6')).toBe(403);
    expect(await xff('198.51.100.1')).toBe(403);
    const before = logs.length;
    expect(await xff('203.0.113.5, not-an-ip')).toBe(403); // malformed: the peer 127.0.0.1 is used
    expect(logs.slice(before)).toContain('malformed client IP header entry');
    // anonymous passthrough and bypassed paths are held to the allow-list too
    expect((await call('GET', '/rest/api/2/myself', [['X-Forwarded-For', '198.51.100.1']])).code).toBe('ip_not_allowed');
    // the header of a peer outside trustedProxies is never believed
    configure({ access: { trustedProxies: ['10.0.0.0/8'], ipAllowlist: ['203.0.113.0/24'] } });
    expect(await xff('203.0.113.5')).toBe(403);
    configure({ access: { groupIpAllowlists: { contractors: ['2001:db8:20::/48'] }, trustedProxies: ['127.0.0.1/32'] } });
    const contractor = bearer(userToken('dave', ['contractors']));
    expect((await call('GET', '/rest/api/2/myself', [contractor, ['X-Forwarded-For', '2001:db8:20::1']])).status).toBe(200);
    expect((await call('GET', '/rest/api/2/myself', [contractor, ['X-Forwarded-For', '2001:db8:21::1']])).code).toBe('ip_not_allowed');
  });

  it('API tokens: read scope, path scope, own IP allow-list and own rate limit', async () => {
    configure({ access: { trustedProxies: ['127.0.0.1/32'] } });
    const store = sidecar.runtime.deps.services.apiTokens!;
    const settings = { prefix: 'jas_', maxLifetimeDays: 90 };
    const mint = async (over: Partial<Parameters<typeof store.create>[0]>) =>
      bearer((await store.create({ owner: 'alice', name: `t${Math.random()}`, groups: ['jira-users'], createdBy: 'test', ...over }, settings)).token);
    const read = await mint({ access: 'read' });
    expect((await call('GET', '/rest/api/2/myself', [read])).status).toBe(200);
    expect((await call('POST', '/rest/api/2/search', [read, ['Content-Type', 'application/json']], '{}')).status).toBe(200);
    expect((await call('POST', '/rest/api/2/issue', [read, ['Content-Type', 'application/json']], '{}')).code).toBe('token_scope');
    expect((await call('POST', '/rest/api/2/search?_method=DELETE', [read, ['Content-Type', 'application/json']], '{}')).code).toBe('token_scope');
    const issuesOnly = await mint({ access: 'write', paths: ['/rest/api/2/issue/*'] });
    expect((await call('PUT', '/rest/api/2/issue/X-1', [issuesOnly, ['Content-Type', 'application/json']], '{}')).status).toBe(200);
    expect((await call('GET', '/rest/api/2/myself', [issuesOnly])).code).toBe('token_scope');
    expect((await call('GET', '/rest/api/2/issue/X-1/..;/../../myself', [issuesOnly])).code).toBe('token_scope');
    const pinned = await mint({ ipAllowlist: ['2001:db8:7::/48'] });
    expect((await call('GET', '/rest/api/2/myself', [pinned, ['X-Forwarded-For', '2001:db8:7::1']])).status).toBe(200);
    expect((await call('GET', '/rest/api/2/myself', [pinned, ['X-Forwarded-For', '2001:db8:8::1']])).code).toBe('ip_not_allowed');
    const limited = await mint({ rateLimit: { points: 1, durationSec: 60 } });
    const first = await call('GET', '/rest/api/2/myself', [limited]);
    expect([first.status, first.headers['ratelimit-limit']]).toEqual([200, '1']);
    expect((await call('GET', '/rest/api/2/myself', [limited])).code).toBe('rate_limited');
  });

  it('bypass keeps the IP allow-list unless bypassSkipsIpAllowlist', async () => {
    configure({ bypass: ['/rest/api/2/serverInfo'], access: { ipAllowlist: ['192.0.2.0/24'] } });
    expect((await call('GET', '/rest/api/2/serverInfo')).code).toBe('ip_not_allowed');
    configure({ bypass: ['/rest/api/2/serverInfo'], access: { ipAllowlist: ['192.0.2.0/24'], bypassSkipsIpAllowlist: true } });
    expect((await call('GET', '/rest/api/2/serverInfo')).status).toBe(200);
  });

  it('enabled: false forwards untouched, but spoofed identity headers are still removed', async () => {
    configure({ enabled: false, publicApiLockdown: { enabled: true, all: true }, access: { ipAllowlist: ['192.0.2.0/24'] } });
    const r = await call('GET', '/rest/api/2/myself;x/%2e%2e/myself', [['X-Forwarded-User', 'admin'], bearer('not-even-a-jwt')]);
    expect(r.status).toBe(200);
    expect(r.reached[0]!.url).toBe('/rest/api/2/myself;x/%2e%2e/myself');
    expect(r.reached[0]!.headers['x-forwarded-user']).toBeUndefined();
    expect(r.headers['ratelimit-limit']).toBeUndefined();
  });
});

describe('rate limits through the proxy (memory store)', () => {
  it('RateLimit-* on allowed responses; 429 with Retry-After once the identity is over its limit', async () => {
    configure({ rateLimit: { points: 2, durationSec: 60 } });
    const t = bearer(userToken('erin', ['jira-users']));
    const a = await call('GET', '/rest/api/2/myself', [t]);
    expect([a.status, a.headers['ratelimit-limit'], a.headers['ratelimit-remaining']]).toEqual([200, '2', '1']);
    expect(Number(a.headers['ratelimit-reset'])).toBeGreaterThan(0);
    expect(a.headers['retry-after']).toBeUndefined(); // only a refusal says when to retry
    expect((await call('GET', '/rest/api/2/myself', [t])).headers['ratelimit-remaining']).toBe('0');
    const over = await call('GET', '/rest/api/2/myself', [t]);
    expect([over.status, over.code, over.reached.length, over.headers['ratelimit-remaining']]).toEqual([429, 'rate_limited', 0, '0']);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    // another identity has its own bucket, and the same user with a fresh token shares erin's
    expect((await call('GET', '/rest/api/2/myself', [bearer(userToken('frank', ['jira-users']))])).status).toBe(200);
    expect((await call('GET', '/rest/api/2/myself', [bearer(userToken('erin', ['jira-users']))])).status).toBe(429);
  });

  it('exactly N of M parallel requests pass a limit of N', async () => {
    configure({ rateLimit: { points: 5, durationSec: 60 } });
    const t = bearer(userToken('grace', ['jira-users']));
    const before = upstream.seen.length;
    const limitedBefore = (await sidecar.runtime.deps.metrics.rateLimited.get()).values[0]?.value ?? 0;
    const rs = await Promise.all(Array.from({ length: 20 }, () => rawRequest(sidecar.proxyUrl, { path: '/rest/api/2/myself', headers: [t] })));
    expect(rs.filter((r) => r.status === 200).length).toBe(5);
    expect(rs.filter((r) => r.status === 429).length).toBe(15);
    expect(upstream.seen.length - before).toBe(5);
    // sidecar_rate_limited_total (and the Status page, which reads it) counts each 429
    expect((await sidecar.runtime.deps.metrics.rateLimited.get()).values[0]?.value).toBe(limitedBefore + 15);
  });

  it('group and client overrides', async () => {
    configure({ rateLimit: { points: 1, durationSec: 60, groups: { integrations: { points: 3, durationSec: 60 } }, clients: { 'app-other': { points: 2, durationSec: 60 } } } });
    const heidi = bearer(userToken('heidi', ['integrations']));
    expect((await call('GET', '/rest/api/2/myself', [heidi])).headers['ratelimit-limit']).toBe('3');
    expect((await call('GET', '/rest/api/2/myself', [bearer(appToken('app-other'))])).headers['ratelimit-limit']).toBe('2');
  });
});

describe('evaluate (POST /api/test): the full decision, same code, nothing consumed', () => {
  const facts = (headers: Record<string, string>, method = 'GET', rawTarget = '/rest/api/2/myself'): RequestFacts => ({
    method,
    rawTarget,
    headers,
    rawHeaders: Object.entries(headers).flat(),
    peerIp: '127.0.0.1',
    receivedAt: Date.now(),
  });

  it('lists every stage verdict in order and does not consume rate-limit points', async () => {
    configure({ rateLimit: { points: 1, durationSec: 60 } });
    const tok = userToken('ivan', ['jira-users', 'auditors']);
    const f = facts({ authorization: `Bearer ${tok}` });
    for (let i = 0; i < 3; i++) {
      const { decision } = await evaluate(f, sidecar.runtime.deps);
      expect(decision).toMatchObject({ allow: true, status: 200, code: 'allowed', route: 'guarded', canonicalPath: '/rest/api/2/myself', clientIp: '127.0.0.1', credentialKind: 'jwt' });
      expect(decision.identity?.username).toBe('ivan');
      expect(decision.rateLimit).toMatchObject({ limit: 1, remaining: 1 });
      const stages = [...new Set(decision.verdicts.map((v) => v.stage))];
      expect(stages).toEqual(['client-ip', 'route-rules', 'credentials', 'verify', 'authorize', 'rate-limit']);
      expect(decision.verdicts.filter((v) => v.stage === 'authorize').map((v) => v.rule)).toEqual(['lockdown', 'ip-allowlist', 'client-acl', 'allowed-groups', 'read-only', 'token-scope']);
    }
    expect(upstream.seen.some((s) => s.headers['x-forwarded-user'] === 'ivan')).toBe(false);
    // the proxy consumes the one point; the test now predicts the refusal
    expect((await call('GET', '/rest/api/2/myself', [bearer(tok)])).status).toBe(200);
    const { decision } = await evaluate(f, sidecar.runtime.deps);
    expect(decision).toMatchObject({ allow: false, status: 429, code: 'rate_limited', stage: 'rate-limit' });
  });

  it('a refusal names its stage and rule and still lists the verdicts before it', async () => {
    const f = facts({ authorization: `Bearer ${userToken('bob', ['auditors'])}`, 'x-http-method-override': 'DELETE' }, 'POST', '/rest/api/2/search');
    const { decision } = await evaluate(f, sidecar.runtime.deps);
    expect(decision).toMatchObject({ allow: false, status: 403, code: 'read_only', stage: 'authorize', rule: 'read-only' });
    expect(decision.verdicts.find((v) => v.rule === 'read-only')).toMatchObject({ outcome: 'deny', code: 'read_only' });
    const bad = await evaluate(facts({}, 'GET', '/rest/api%2F2/myself'), sidecar.runtime.deps);
    expect(bad.decision).toMatchObject({ allow: false, status: 400, code: 'path_invalid', stage: 'route-rules' });
  });
});
