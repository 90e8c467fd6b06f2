import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../clock.js';
import { compilePolicy, type Policy } from '../../../config/policy.js';
import { validate } from '../../../config/validate.js';
import { SidecarError } from '../../../errors.js';
import { JiraUserLookup } from '../jwt/jira-groups.js';
import type { FetchLike } from '../jwt/key-source.js';
import { entryAge, OwnerIdentities, resolveGroupsFrom } from './owner-identity.js';

const T0 = Date.UTC(2026, 0, 1);
const TTL = 300_000;

function policyOf(over: Record<string, unknown> = {}): Policy {
  const v = validate({ jiraGroupLookup: { authorization: 'Bearer svc', timeoutMs: 200 }, apiTokens: { identityCacheSec: TTL / 1000 }, ...over });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return compilePolicy(v.config);
}

/** A fake Jira: answers from `users` (404 when missing), or `mode` fails it; counts calls; can hold answers. */
function fakeJira() {
  const j = {
    users: new Map<string, { active: boolean; groups: string[] }>([['alice', { active: true, groups: ['g1', 'g2'] }]]),
    mode: 'up' as 'up' | 'down' | '500' | 'hang',
    calls: 0,
    held: [] as Array<() => void>,
    hold: false,
  };
  const fetchImpl: FetchLike = async (url, init) => {
    j.calls++;
    if (j.hold) await new Promise<void>((r) => j.held.push(r));
    if (j.mode === 'down') throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    if (j.mode === 'hang') {
      await new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    }
    if (j.mode === '500') return new Response('oops', { status: 500 });
    const name = new URL(url).searchParams.get('username')!;
    const u = j.users.get(name);
    if (!u) return Response.json({ errorMessages: ['no such user'] }, { status: 404 });
    return Response.json({ name, active: u.active, groups: { size: u.groups.length, items: u.groups.map((g) => ({ name: g })) } });
  };
  const release = () => {
    j.hold = false;
    for (const r of j.held.splice(0)) r();
  };
  return { j, fetchImpl, release };
}

const settle = () => new Promise((r) => setTimeout(r, 10));
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof SidecarError ? `${e.code}/${e.rule}` : String(e);
  }
}

describe('resolveGroupsFrom', () => {
  const at = (groupsFrom?: 'jira' | 'creation', authorization?: string) => resolveGroupsFrom({ apiTokens: { groupsFrom }, jiraGroupLookup: { authorization } });
  it('unset: jira with a Jira service credential, else creation', () => {
    expect(at(undefined, 'Bearer x')).toEqual({ from: 'jira', reason: 'credential' });
    expect(at(undefined, undefined)).toEqual({ from: 'creation', reason: 'no-credential' });
  });
  it('set: as set, credential or not', () => {
    expect(at('creation', 'Bearer x')).toEqual({ from: 'creation', reason: 'set' });
    expect(at('jira', undefined)).toEqual({ from: 'jira', reason: 'set' });
  });
});

describe('entryAge', () => {
  it('fresh below half the life, stale from half, expired at the life', () => {
    expect(entryAge(T0, T0, TTL)).toBe('fresh');
    expect(entryAge(T0, T0 + TTL / 2 - 1, TTL)).toBe('fresh');
    expect(entryAge(T0, T0 + TTL / 2, TTL)).toBe('stale');
    expect(entryAge(T0, T0 + TTL - 1, TTL)).toBe('stale');
    expect(entryAge(T0, T0 + TTL, TTL)).toBe('expired');
    expect(entryAge(T0, T0 - TTL - 1, TTL)).toBe('expired');
  });
});

describe('OwnerIdentities', () => {
  it('caches per owner; one lookup in flight per owner', async () => {
    const { j, fetchImpl, release } = fakeJira();
    const clock = fixedClock(T0);
    const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl), clock);
    const p = policyOf();
    j.hold = true;
    const all = Promise.all([owners.of('alice', p, 'proxy'), owners.of('alice', p, 'proxy'), owners.of('alice', p, 'test')]);
    await settle();
    expect(j.calls).toBe(1);
    release();
    expect(await all).toEqual(Array(3).fill({ found: true, active: true, groups: ['g1', 'g2'] }));
    expect(await owners.of('alice', p, 'proxy')).toMatchObject({ groups: ['g1', 'g2'] });
    expect(j.calls).toBe(1);
  });

  it('past half its life: answered from the cache, refreshed once in the background', async () => {
    const { j, fetchImpl, release } = fakeJira();
    const clock = fixedClock(T0);
    const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl), clock);
    const p = policyOf();
    await owners.of('alice', p, 'proxy');
    j.users.set('alice', { active: true, groups: ['g1'] });
    clock.advance(TTL / 2 + 1);
    j.hold = true;
    // Answered at once from the cache, with the refresh still waiting for Jira.
    expect((await owners.of('alice', p, 'proxy')).groups).toEqual(['g1', 'g2']);
    expect((await owners.of('alice', p, 'proxy')).groups).toEqual(['g1', 'g2']);
    expect(j.calls).toBe(2);
    release();
    await settle();
    expect((await owners.of('alice', p, 'proxy')).groups).toEqual(['g1']);
    expect(j.calls).toBe(2);
  });

  it("'test' mode reads the cache but starts no refresh and stores nothing", async () => {
    const { j, fetchImpl } = fakeJira();
    const clock = fixedClock(T0);
    const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl), clock);
    const p = policyOf();
    expect(await owners.of('alice', p, 'test')).toMatchObject({ found: true });
    expect(owners.size).toBe(0);
    await owners.of('alice', p, 'proxy');
    clock.advance(TTL / 2 + 1);
    await owners.of('alice', p, 'test');
    await settle();
    expect(j.calls).toBe(2);
  });

  it('deactivated and unknown owners are answers, not failures', async () => {
    const { j, fetchImpl } = fakeJira();
    j.users.set('bob', { active: false, groups: ['g1'] });
    const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl), fixedClock(T0));
    expect(await owners.of('bob', policyOf(), 'proxy')).toEqual({ found: true, active: false, groups: ['g1'] });
    expect(await owners.of('carol', policyOf(), 'proxy')).toEqual({ found: false, active: false, groups: [] });
  });

  it('Jira down: the cached answer until it expires (a failed refresh keeps it), then 503 auth_unavailable', async () => {
    const { j, fetchImpl } = fakeJira();
    const clock = fixedClock(T0);
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, m: string) => void warnings.push(m) } as never;
    const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl), clock, logger);
    const p = policyOf();
    await owners.of('alice', p, 'proxy');
    for (const mode of ['down', '500'] as const) {
      j.mode = mode;
      clock.set(T0 + TTL / 2 + 1);
      expect(await codeOf(owners.of('alice', p, 'proxy'))).toBe('ok');
      await settle();
      expect(await codeOf(owners.of('alice', p, 'proxy'))).toBe('ok');
    }
    expect(warnings.length).toBeGreaterThan(0);
    clock.set(T0 + TTL);
    expect(await codeOf(owners.of('alice', p, 'proxy'))).toBe('auth_unavailable/api-token:jira');
    j.mode = 'hang';
    expect(await codeOf(owners.of('alice', p, 'proxy'))).toBe('auth_unavailable/api-token:jira');
    j.mode = 'up';
    expect(await codeOf(owners.of('alice', p, 'proxy'))).toBe('ok');
  });

  it('a failed background refresh is retried after a pause, not on every request', async () => {
    const { j, fetchImpl } = fakeJira();
    const clock = fixedClock(T0);
    const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl), clock);
    const p = policyOf();
    await owners.of('alice', p, 'proxy');
    j.mode = 'down';
    clock.advance(TTL / 2 + 1);
    await owners.of('alice', p, 'proxy');
    await settle();
    const calls = j.calls;
    await owners.of('alice', p, 'proxy');
    await settle();
    expect(j.calls).toBe(calls);
    clock.advance(5_000);
    await owners.of('alice', p, 'proxy');
    await settle();
    expect(j.calls).toBe(calls + 1);
  });

  it('a new upstream URL or credential drops the cached answers; another setting keeps them', async () => {
    const { j, fetchImpl } = fakeJira();
    const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl), fixedClock(T0));
    await owners.of('alice', policyOf(), 'proxy');
    await owners.of('alice', policyOf({ log: { level: 'warn' } }), 'proxy');
    expect(j.calls).toBe(1);
    await owners.of('alice', policyOf({ jiraGroupLookup: { authorization: 'Bearer other' } }), 'proxy');
    expect(j.calls).toBe(2);
  });

  it('identityCacheSec applies to entries already cached', async () => {
    const { j, fetchImpl } = fakeJira();
    const clock = fixedClock(T0);
    const owners = new OwnerIdentities(new JiraUserLookup(fetchImpl), clock);
    await owners.of('alice', policyOf(), 'proxy');
    clock.advance(61_000);
    await owners.of('alice', policyOf({ apiTokens: { identityCacheSec: 60 } }), 'test');
    expect(j.calls).toBe(2);
  });
});
