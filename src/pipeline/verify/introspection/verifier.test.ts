import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../clock.js';
import { compilePolicy, type Policy } from '../../../config/policy.js';
import { validate } from '../../../config/validate.js';
import { SidecarError } from '../../../errors.js';
import type { RequestState } from '../../state.js';
import type { FetchLike } from '../jwt/key-source.js';
import { IntrospectionVerifier } from './verifier.js';

const T0 = 1_800_000_000_000;
const nowSec = Math.floor(T0 / 1000);

function policyOf(over: Record<string, unknown> = {}): Policy {
  const v = validate({ introspection: { enabled: true, endpoint: 'https://idp/introspect', clientId: 'sc', clientSecret: 's', cacheSec: 60, negativeCacheSec: 10, ...over } });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return compilePolicy(v.config);
}

/** An introspection endpoint in memory: answers from `answers` by token, records each call's body. */
function endpoint(answers: Record<string, Record<string, unknown>>) {
  const bodies: string[] = [];
  const f: FetchLike = async (_url, init) => {
    const body = String(init?.body);
    bodies.push(body);
    const token = new URLSearchParams(body).get('token') ?? '';
    return Response.json(answers[token] ?? { active: false });
  };
  return { f, bodies };
}

function harness(answers: Record<string, Record<string, unknown>>, policy = policyOf()) {
  const clock = fixedClock(T0);
  const ep = endpoint(answers);
  const v = new IntrospectionVerifier({ clock, fetch: ep.f });
  const run = async (token: string) => {
    const st = { requestId: 't', policy, facts: {} as RequestState['facts'], verdicts: [] } as RequestState;
    try {
      return (await v.verify({ kind: 'opaque-bearer', action: 'verify', secret: token }, st)).username;
    } catch (e) {
      return e instanceof SidecarError ? e.code : `other ${(e as Error).message}`;
    }
  };
  return { clock, run, calls: () => ep.bodies.length, bodies: ep.bodies, v };
}

describe('IntrospectionVerifier cache', () => {
  it('caches a positive answer for cacheSec', async () => {
    const h = harness({ t1: { active: true, username: 'alice' } });
    expect(await h.run('t1')).toBe('alice');
    h.clock.advance(59_000);
    expect(await h.run('t1')).toBe('alice');
    expect(h.calls()).toBe(1);
    h.clock.advance(2_000);
    await h.run('t1');
    expect(h.calls()).toBe(2);
  });

  it('never caches a positive answer beyond the token exp', async () => {
    const h = harness({ t1: { active: true, username: 'alice', exp: nowSec + 5 } });
    expect(await h.run('t1')).toBe('alice');
    h.clock.advance(6_000);
    expect(await h.run('t1')).toBe('token_expired');
    expect(h.calls()).toBe(2);
  });

  it('caches a negative answer for negativeCacheSec only', async () => {
    const answers: Record<string, Record<string, unknown>> = {};
    const h = harness(answers);
    expect(await h.run('t2')).toBe('token_inactive');
    answers.t2 = { active: true, username: 'bob' };
    h.clock.advance(9_000);
    expect(await h.run('t2')).toBe('token_inactive');
    h.clock.advance(2_000);
    expect(await h.run('t2')).toBe('bob');
  });

  it('concurrent requests for one token share one introspection call', async () => {
    const h = harness({ t1: { active: true, username: 'alice' } });
    const all = await Promise.all(Array.from({ length: 10 }, () => h.run('t1')));
    expect(new Set(all)).toEqual(new Set(['alice']));
    expect(h.calls()).toBe(1);
  });

  it('never caches a not-yet-valid answer as valid, and asks again once nbf has come', async () => {
    const h = harness({ t1: { active: true, username: 'alice', nbf: nowSec + 65, exp: nowSec + 600 } }, policyOf({ clockToleranceSec: 0, negativeCacheSec: 300, cacheSec: 600 }));
    expect(await h.run('t1')).toBe('token_invalid');
    h.clock.advance(5_000);
    expect(await h.run('t1')).toBe('token_invalid');
    expect(h.calls()).toBe(1); // refused from the cache, never allowed from it
    h.clock.advance(60_000); // nbf reached: the refusal was cached only until then
    expect(await h.run('t1')).toBe('alice');
    expect(h.calls()).toBe(2);
  });

  it('onReload empties the cache', async () => {
    const h = harness({ t1: { active: true, username: 'alice' } });
    await h.run('t1');
    h.v.onReload();
    await h.run('t1');
    expect(h.calls()).toBe(2);
  });
});

describe('IntrospectionVerifier answers', () => {
  it.each([
    ['active without a boolean', { username: 'x' }, 'auth_unavailable'],
    ['active as a string', { active: 'true', username: 'x' }, 'auth_unavailable'],
    ['no username field', { active: true, sub: 'x' }, 'username_missing'],
    ['username with a line break', { active: true, username: 'a\r\nb' }, 'username_missing'],
    ['groups as a space-separated string', { active: true, username: 'a', groups: 'g1 g2' }, 'a'],
    // RFC 7662 §2.2: nbf and exp are NumericDates; a token not yet valid is refused as a JWT's would be
    ['nbf in the future (beyond the clock tolerance)', { active: true, username: 'a', nbf: nowSec + 61 }, 'token_invalid'],
    ['nbf within the clock tolerance', { active: true, username: 'a', nbf: nowSec + 30 }, 'a'],
    ['nbf in the past', { active: true, username: 'a', nbf: nowSec - 10 }, 'a'],
    ['nbf not a number', { active: true, username: 'a', nbf: 'soon' }, 'token_invalid'],
    ['exp not a number', { active: true, username: 'a', exp: '2099-01-01' }, 'token_invalid'],
  ])('%s -> %s', async (_n, answer, expected) => {
    expect(await harness({ t: answer }).run('t')).toBe(expected);
  });

  it('uses the configured username and groups fields', async () => {
    const p = policyOf({ usernameField: 'preferred_username', groupsField: 'roles' });
    const clock = fixedClock(T0);
    const f: FetchLike = async () => Response.json({ active: true, preferred_username: 'carol', roles: ['r1'], client_id: 'app' });
    const v = new IntrospectionVerifier({ clock, fetch: f });
    const id = await v.verify({ kind: 'opaque-bearer', action: 'verify', secret: 't' }, { requestId: 't', policy: p, facts: {} as RequestState['facts'], verdicts: [] });
    expect(id).toMatchObject({ username: 'carol', groups: ['r1'], clientId: 'app', source: 'introspection' });
  });

  it('client_secret_basic form-encodes id and secret (RFC 6749 §2.3.1); the token travels only in the body', async () => {
    const p = policyOf({ clientId: 'my client', clientSecret: 'p@ss:word' });
    let auth = '';
    let body = '';
    const f: FetchLike = async (_u, init) => {
      auth = String((init?.headers as Record<string, string>).authorization);
      body = String(init?.body);
      return Response.json({ active: false });
    };
    const v = new IntrospectionVerifier({ clock: fixedClock(T0), fetch: f });
    await v.verify({ kind: 'opaque-bearer', action: 'verify', secret: 'the-token' }, { requestId: 't', policy: p, facts: {} as RequestState['facts'], verdicts: [] }).catch(() => undefined);
    expect(Buffer.from(auth.slice(6), 'base64').toString()).toBe('my+client:p%40ss%3Aword');
    expect(new URLSearchParams(body).get('token')).toBe('the-token');
    expect(new URLSearchParams(body).get('client_secret')).toBeNull();
  });
});
