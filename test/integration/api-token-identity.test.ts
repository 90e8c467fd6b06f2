// Live identity of API tokens (issue 19, apiTokens.groupsFrom: jira) through the real proxy in
// front of the Jira-like upstream, which also answers the owner lookups
// (GET /rest/api/2/user?username=X&expand=groups from its `users` map and `inactive` set). Time is
// an injected clock: the cache bound (apiTokens.identityCacheSec) is crossed by moving it, never by
// sleeping. Rights are observed through access.allowedGroups: ['jira-developers'].
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { fixedClock } from '../../src/clock.js';
import { evaluate } from '../../src/pipeline/evaluate.js';
import type { RequestFacts } from '../../src/pipeline/state.js';
import { baseConfig, merge, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { json, rawRequest } from '../helpers/http.js';

const TTL_SEC = 300;
const TTL = TTL_SEC * 1000;
let upstream: JiraUpstream;
let sidecar: TestSidecar;
const clock = fixedClock(Date.now());

/** This file's settings on top of the test base: a Jira service credential (so groupsFrom resolves to jira). */
const extra = (over: unknown = {}) =>
  merge(
    {
      jiraGroupLookup: { authorization: 'Bearer svc-pat', timeoutMs: 1000 },
      apiTokens: { identityCacheSec: TTL_SEC },
      access: { allowedGroups: ['jira-developers'] },
    },
    over,
  );
const settings = (over: unknown = {}) => merge(baseConfig(upstream.url, sidecar.dataDir), extra(over));

function configure(over: unknown = {}) {
  const v = validate(settings(over));
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  sidecar.runtime.applyConfig(v.config);
}

async function call(token: string) {
  const before = upstream.seen.length;
  const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });
  const forwarded = upstream.seen.slice(before).filter((s) => s.url.startsWith('/rest/test/echo'));
  const body = r.headers['content-type']?.includes('json') ? (json(r) as Record<string, any>) : {};
  return r.status === 200 ? `200 ${body.headers?.['x-forwarded-user']}` : `${r.status} ${body.error}${forwarded.length ? ' (forwarded)' : ''}`;
}

const facts = (token: string): RequestFacts => ({
  method: 'GET',
  rawTarget: '/rest/api/2/myself',
  headers: { authorization: `Bearer ${token}` },
  rawHeaders: ['Authorization', `Bearer ${token}`],
  peerIp: '127.0.0.1',
  receivedAt: clock.now(),
});

/** Owner lookups the fake Jira has answered for `user`. */
const lookups = (user: string) => upstream.seen.filter((s) => s.url === `/rest/api/2/user?username=${encodeURIComponent(user)}&expand=groups`).length;

/** A token whose stored groups (the creation snapshot) are `groups`. */
const mint = async (owner: string, groups: string[] = []) =>
  (await sidecar.runtime.deps.services.apiTokens!.create({ owner, name: 'ci', groups, createdBy: 'test' }, { prefix: 'jas_', maxLifetimeDays: 90 })).token;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  sidecar = await startTestSidecar(upstream.url, extra(), { clock });
});

afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
});

beforeEach(() => configure());

describe('groupsFrom: jira (unset, with jiraGroupLookup.authorization)', () => {
  const alice = ['jira-users', 'jira-developers'];
  afterEach(() => {
    upstream.users.set('alice', [...alice]);
    upstream.inactive.clear();
  });

  it('/readyz says where the groups come from', async () => {
    const body = (await (await fetch(`${sidecar.adminUrl}/readyz`)).json()) as { checks: Array<{ name: string; ok: boolean; detail: string }> };
    expect(body.checks.find((c) => c.name === 'api-token-identity')).toEqual({ name: 'api-token-identity', ok: true, detail: `groups and active state from Jira, cached ${TTL_SEC} s` });
  });

  it('the groups are the owner\'s in Jira, not the token\'s snapshot', async () => {
    const token = await mint('alice', []);
    expect(await call(token)).toBe('200 alice');
    const { decision } = await evaluate(facts(token), sidecar.runtime.deps);
    expect(decision.identity?.groups).toEqual(alice);
    expect(decision.verdicts).toContainEqual(expect.objectContaining({ stage: 'verify', rule: 'api-token:groups', outcome: 'info' }));
  });

  it('a group removed in Jira is gone from the token\'s rights within identityCacheSec', async () => {
    clock.advance(TTL); // nothing cached from earlier cases is usable
    const token = await mint('alice', ['jira-developers']);
    const before = lookups('alice');
    expect(await call(token)).toBe('200 alice');
    expect(lookups('alice')).toBe(before + 1);
    upstream.users.set('alice', ['jira-users']);
    clock.advance(TTL / 2 - 1); // still fresh: answered from the cache, Jira not asked
    expect(await call(token)).toBe('200 alice');
    expect(lookups('alice')).toBe(before + 1);
    clock.advance(TTL / 2 + 1); // exactly identityCacheSec after the lookup: expired
    expect(await call(token)).toBe('403 group_not_allowed');
    expect(lookups('alice')).toBe(before + 2);
  });

  it('past half its life an entry is refreshed in the background; the request is answered from the cache', async () => {
    clock.advance(TTL);
    const token = await mint('alice', ['jira-developers']);
    expect(await call(token)).toBe('200 alice');
    const before = lookups('alice');
    upstream.users.set('alice', ['jira-users']);
    clock.advance(TTL / 2 + 1);
    expect(await call(token)).toBe('200 alice'); // old groups, while the refresh runs
    await vi.waitFor(() => expect(lookups('alice')).toBe(before + 1));
    await vi.waitFor(async () => expect(await call(token)).toBe('403 group_not_allowed'));
    expect(lookups('alice')).toBe(before + 1); // the refreshed answer was cached
  });

  it("POST /api/test reads the cache but starts no background refresh", async () => {
    clock.advance(TTL);
    const token = await mint('alice');
    expect(await call(token)).toBe('200 alice');
    const before = lookups('alice');
    upstream.users.set('alice', ['jira-users']);
    clock.advance(TTL / 2 + 1);
    const { decision } = await evaluate(facts(token), sidecar.runtime.deps);
    expect(decision.allow).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(lookups('alice')).toBe(before);
    expect(await call(token)).toBe('200 alice'); // still the cached answer: the proxy request starts the refresh
    await vi.waitFor(async () => expect(await call(token)).toBe('403 group_not_allowed'));
    expect(lookups('alice')).toBe(before + 1);
  });

  it('one lookup in flight per owner', async () => {
    clock.advance(TTL);
    const token = await mint('alice');
    const before = lookups('alice');
    expect(await Promise.all(Array.from({ length: 8 }, () => call(token)))).toEqual(Array(8).fill('200 alice'));
    expect(lookups('alice')).toBe(before + 1);
  });

  it('an owner deactivated in Jira is 403 owner_inactive once the cached answer expires', async () => {
    upstream.users.set('carol', ['jira-developers']);
    const token = await mint('carol', ['jira-developers']);
    expect(await call(token)).toBe('200 carol');
    upstream.inactive.add('carol');
    clock.advance(TTL);
    expect(await call(token)).toBe('403 owner_inactive');
    const { decision } = await evaluate(facts(token), sidecar.runtime.deps);
    expect(decision).toMatchObject({ allow: false, code: 'owner_inactive', rule: 'api-token:owner', stage: 'verify' });
    upstream.inactive.delete('carol');
    clock.advance(TTL);
    expect(await call(token)).toBe('200 carol');
  });

  it('an owner deleted in Jira (404) is 403 owner_inactive', async () => {
    upstream.users.set('dave', ['jira-developers']);
    const token = await mint('dave', ['jira-developers']);
    expect(await call(token)).toBe('200 dave');
    upstream.users.delete('dave');
    clock.advance(TTL);
    expect(await call(token)).toBe('403 owner_inactive');
    expect(await call(await mint('nobody-in-jira', ['jira-developers']))).toBe('403 owner_inactive');
  });

  it('a revoked token is refused before Jira is asked', async () => {
    clock.advance(TTL);
    const tokens = sidecar.runtime.deps.services.apiTokens!;
    const { token, id } = await tokens.create({ owner: 'alice', name: 'x', groups: [], createdBy: 'test' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    await tokens.revoke(id);
    const before = lookups('alice');
    expect(await call(token)).toBe('401 token_revoked');
    expect(lookups('alice')).toBe(before);
  });

  it('a reload that keeps the upstream URL and credential keeps the cached answers', async () => {
    clock.advance(TTL);
    const token = await mint('alice');
    expect(await call(token)).toBe('200 alice');
    const before = lookups('alice');
    configure({ log: { level: 'silent' }, rateLimit: { points: 500 } });
    expect(await call(token)).toBe('200 alice');
    expect(lookups('alice')).toBe(before);
    configure({ jiraGroupLookup: { authorization: 'Bearer another-svc-pat' } });
    expect(await call(token)).toBe('200 alice');
    expect(lookups('alice')).toBe(before + 1);
  });

  it('the owner lookups are timed as sidecar_idp_request_duration_seconds{kind="jira_groups"}', async () => {
    const text = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
    expect(Number(/^sidecar_idp_request_duration_seconds_count\{kind="jira_groups",outcome="ok"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
  });
});

describe('groupsFrom: creation', () => {
  beforeEach(() => configure({ apiTokens: { groupsFrom: 'creation' } }));
  afterEach(() => {
    upstream.users.set('alice', ['jira-users', 'jira-developers']);
    upstream.inactive.clear();
  });

  it('keeps the snapshot taken at creation and never asks Jira', async () => {
    const token = await mint('alice', ['jira-developers']);
    const before = lookups('alice');
    upstream.users.set('alice', ['jira-users']);
    upstream.inactive.add('alice');
    clock.advance(TTL * 10);
    expect(await call(token)).toBe('200 alice');
    const { decision } = await evaluate(facts(token), sidecar.runtime.deps);
    expect(decision.identity?.groups).toEqual(['jira-developers']);
    // A token minted without the group has no rights, whatever Jira says.
    expect(await call(await mint('alice', ['jira-users']))).toBe('403 group_not_allowed');
    expect(lookups('alice')).toBe(before);
  });

  it('unset without jiraGroupLookup.authorization resolves to creation, and /readyz says why', async () => {
    const v = validate(merge(baseConfig(upstream.url, sidecar.dataDir), { access: { allowedGroups: ['jira-developers'] } }));
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    sidecar.runtime.applyConfig(v.config);
    const token = await mint('alice', ['jira-developers']);
    upstream.users.set('alice', ['jira-users']);
    expect(await call(token)).toBe('200 alice');
    const body = (await (await fetch(`${sidecar.adminUrl}/readyz`)).json()) as { checks: Array<{ name: string; ok: boolean; detail: string }> };
    expect(body.checks.find((c) => c.name === 'api-token-identity')?.detail).toMatch(/^groups as of creation: apiTokens.groupsFrom is unset and jiraGroupLookup.authorization is not set/);
  });
});

// Last: stops the fake Jira, then starts it again on the same port.
describe('Jira unreachable', () => {
  it('a warm cache is used until it expires (a failed background refresh keeps it), then 503 auth_unavailable', async () => {
    clock.advance(TTL);
    const token = await mint('alice');
    expect(await call(token)).toBe('200 alice');
    const port = upstream.port;
    await upstream.close();
    // Allowed by the sidecar: the request reaches the forward stage, which cannot reach Jira either.
    expect(await call(token)).toBe('502 upstream_unreachable');
    clock.advance(TTL / 2 + 1); // stale: a background refresh is tried and fails
    expect(await call(token)).toBe('502 upstream_unreachable');
    expect((await evaluate(facts(token), sidecar.runtime.deps)).decision.allow).toBe(true);
    clock.advance(TTL / 2 - 2); // one millisecond before expiry
    expect(await call(token)).toBe('502 upstream_unreachable');
    clock.advance(1); // expired: never an allow on a failed lookup
    expect(await call(token)).toBe('503 auth_unavailable');
    expect((await evaluate(facts(token), sidecar.runtime.deps)).decision).toMatchObject({ allow: false, code: 'auth_unavailable', rule: 'api-token:jira' });
    upstream = await startJiraUpstream({ port });
    expect(await call(token)).toBe('200 alice');
  });
});
