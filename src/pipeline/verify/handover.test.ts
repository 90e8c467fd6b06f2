// Verdict handover in process: a real verifier (a PEM issuer, no network), real SQLite stores, the
// save of one verifier read back by another. A cache hit answers synchronously and a miss with a
// promise: that is how these tests tell a verdict taken over from a token verified again.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../clock.js';
import { compilePolicy, type Policy } from '../../config/policy.js';
import { validate } from '../../config/validate.js';
import { openDb } from '../../store/sqlite/db.js';
import { sqliteStores } from '../../store/sqlite/stores.js';
import type { Stores } from '../../store/stores.js';
import type { Identity, RequestState } from '../state.js';
import { INTROSPECTION_HANDOVER, JWT_HANDOVER, loadHandover, parseHandedIdentity, saveHandover } from './handover.js';
import { JwtVerifier } from './jwt/verifier.js';

const T0 = 1_800_000_000_000;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

function policyOf(jwt: Record<string, unknown> = {}, issuer: Record<string, unknown> = {}): Policy {
  const v = validate({
    jwt: { ...jwt, issuers: [{ name: 'p', issuer: 'https://idp', audiences: ['api://x'], keys: { publicKeyPem: rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString() }, ...issuer }] },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return compilePolicy(v.config);
}

const sign = (user: string, exp = T0 / 1000 + 3600) =>
  new SignJWT({ iss: 'https://idp', aud: 'api://x', preferred_username: user, groups: ['g1'], email: `${user}@example.com` }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime(exp).sign(rsa.privateKey);

function verifierOf(policy: Policy, clock = fixedClock(T0)) {
  const v = new JwtVerifier({ clock, fetch: async () => Promise.reject(new Error('no network')), getPolicy: () => policy });
  const state = { requestId: 't', policy, facts: {} as RequestState['facts'], verdicts: [] } as unknown as RequestState;
  const verify = (token: string) => v.verify({ kind: 'jwt', action: 'verify', secret: token }, state);
  return { v, verify, clock };
}

let dir: string;
let stores: Stores;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'handover-'));
  stores = sqliteStores(openDb(dir).db, { ownsDb: true });
});
afterEach(async () => {
  await stores.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('verdict handover', () => {
  it('what one verifier saves, the next takes over: its tokens answer from the cache at once, with the same identity but the raw claims', async () => {
    const policy = policyOf();
    const a = verifierOf(policy);
    const [alice, bob] = [await sign('alice'), await sign('bob')];
    const first = await a.verify(alice);
    await a.verify(bob);
    expect(await saveHandover(JWT_HANDOVER, a.v, stores.verdicts, policy, T0)).toBe(2);

    const b = verifierOf(policy);
    expect(await loadHandover(JWT_HANDOVER, b.v, stores.verdicts, policy, T0 + 1000)).toEqual({ loaded: 2, skipped: 0 });
    // Kept in the stopped verifier's order of use: bob was used last.
    const order = () => b.v.handoverOut(policy, T0 + 1000).map((e) => (e.identity as Identity).username);
    expect(order()).toEqual(['bob', 'alice']);
    const answer = b.verify(alice);
    expect(answer).not.toBeInstanceOf(Promise);
    const { claims, ...rest } = first;
    expect(claims).toMatchObject({ email: 'alice@example.com' });
    expect(answer).toEqual({ ...rest, claims: undefined });
    expect(order()).toEqual(['alice', 'bob']);
    // A token neither verified is still a miss (a promise), verified in full.
    const carol = b.verify(await sign('carol'));
    expect(carol).toBeInstanceOf(Promise);
    expect((await carol).username).toBe('carol');
  });

  it('settings, a version or an expiry that differ: nothing is taken over', async () => {
    const policy = policyOf();
    const a = verifierOf(policy);
    await a.verify(await sign('alice'));
    await saveHandover(JWT_HANDOVER, a.v, stores.verdicts, policy, T0);

    const otherAudience = policyOf({}, { audiences: ['api://y'] });
    expect(await loadHandover(JWT_HANDOVER, verifierOf(otherAudience).v, stores.verdicts, otherAudience, T0)).toEqual({ loaded: 0, skipped: 0 });
    const reportMode = compilePolicy({ ...policy.config, enforcement: { ...policy.config.enforcement, mode: 'report' } });
    expect(await loadHandover(JWT_HANDOVER, verifierOf(reportMode).v, stores.verdicts, reportMode, T0)).toEqual({ loaded: 0, skipped: 0 });
    expect(JWT_HANDOVER.fingerprint(policy.config, '9.9.9')).not.toBe(JWT_HANDOVER.fingerprint(policy.config));
    // The entry's bound is min(exp, verified + keyCache.maxAgeSec = 600 s).
    expect(await loadHandover(JWT_HANDOVER, verifierOf(policy).v, stores.verdicts, policy, T0 + 600_000)).toEqual({ loaded: 0, skipped: 0 });
    expect(await loadHandover(JWT_HANDOVER, verifierOf(policy).v, stores.verdicts, policy, T0 + 599_000)).toEqual({ loaded: 1, skipped: 0 });
  });

  it('a stop during the start-up warm-up hands nothing over (the cache then holds the throw-away key\'s verdicts)', async () => {
    const policy = policyOf();
    const a = verifierOf(policy);
    const tokens = await a.v.beginWarmup(policy, 2);
    expect(tokens).toHaveLength(2);
    const warm = { requestId: 'w', policy, facts: {} as RequestState['facts'], verdicts: [], warmup: true } as unknown as RequestState;
    expect((await a.v.verify({ kind: 'jwt', action: 'verify', secret: tokens![0]! }, warm)).username).toBeTruthy();
    await a.verify(await sign('alice'));
    expect(a.v.handoverOut(policy, T0)).toEqual([]);
    expect(await saveHandover(JWT_HANDOVER, a.v, stores.verdicts, policy, T0)).toBe(0);
    a.v.endWarmup();
    await a.verify(await sign('alice'));
    expect(a.v.handoverOut(policy, T0).map((e) => e.identity.username)).toEqual(['alice']);
  });

  it('takes over at most jwt.cacheSize verdicts, the most recently used', async () => {
    const big = policyOf({ cacheSize: 10 });
    const a = verifierOf(big);
    for (const u of ['u1', 'u2', 'u3', 'u4']) await a.verify(await sign(u));
    await saveHandover(JWT_HANDOVER, a.v, stores.verdicts, big, T0);
    // The same fingerprint needs the same jwt settings: cacheSize is one of them, so the store is read with a smaller limit here.
    const rows = await stores.verdicts.load('jwt', JWT_HANDOVER.fingerprint(big.config), { now: T0, limit: 10 });
    const two = policyOf({ cacheSize: 2 });
    const small = verifierOf(two);
    expect(small.v.handoverIn(rows.map((r) => ({ hash: r.hash, identity: parseHandedIdentity(r.identity)!, untilMs: r.untilMs })), two, T0)).toBe(2);
    expect(small.v.handoverOut(two, T0).map((e) => e.identity.username)).toEqual(['u4', 'u3']);
  });

  it('a stored identity is taken only as a JWT identity with its fields typed; anything else is skipped', () => {
    const ok = { username: 'alice', source: 'jwt', groups: ['g'], roles: [], issuer: 'p', isServicePrincipal: false, clientId: 'app', expiresAt: 1 };
    expect(parseHandedIdentity(JSON.stringify(ok))).toEqual({ ...ok, claims: undefined });
    // API-token fields are never carried over, whatever the row says.
    expect(parseHandedIdentity(JSON.stringify({ ...ok, tokenId: 't', scope: { access: 'write', paths: [] }, ipAllowlist: ['0.0.0.0/0'], rateLimit: { points: 1e9, durationSec: 1 }, claims: { x: 1 } }))).toEqual({ ...ok, claims: undefined });
    for (const bad of [
      'not json',
      'null',
      '[]',
      JSON.stringify({ ...ok, source: 'api-token' }),
      JSON.stringify({ ...ok, username: '' }),
      JSON.stringify({ ...ok, username: 7 }),
      JSON.stringify({ ...ok, groups: 'g' }),
      JSON.stringify({ ...ok, roles: [1] }),
      JSON.stringify({ ...ok, isServicePrincipal: 'no' }),
      JSON.stringify({ ...ok, issuer: undefined }),
      JSON.stringify({ ...ok, clientId: 5 }),
      JSON.stringify({ ...ok, expiresAt: '1' }),
    ])
      expect(parseHandedIdentity(bad), bad).toBeUndefined();
  });

  it('rows that are not verdicts are counted as skipped and not taken', async () => {
    const policy = policyOf();
    const fp = JWT_HANDOVER.fingerprint(policy.config);
    const identity = JSON.stringify({ username: 'x', source: 'jwt', groups: [], roles: [], issuer: 'p', isServicePrincipal: false });
    await stores.verdicts.save('jwt', fp, [
      { hash: 'short', identity, untilMs: T0 + 1000 },
      { hash: 'A'.repeat(43), identity: '{', untilMs: T0 + 1000 },
      { hash: 'B'.repeat(43), identity, untilMs: T0 + 1000 },
    ], { now: T0, keep: 10 });
    const b = verifierOf(policy);
    expect(await loadHandover(JWT_HANDOVER, b.v, stores.verdicts, policy, T0)).toEqual({ loaded: 1, skipped: 2 });
  });
  it('each kind takes only identities of its own source: a JWT row is not an introspection answer, nor the reverse', () => {
    const jwt = { username: 'alice', source: 'jwt', groups: [], roles: [], issuer: 'p', isServicePrincipal: false };
    const opaque = { ...jwt, source: 'introspection', issuer: 'introspection' };
    expect(parseHandedIdentity(JSON.stringify(opaque), 'introspection')).toEqual({ ...opaque, claims: undefined });
    expect(parseHandedIdentity(JSON.stringify(opaque), 'jwt')).toBeUndefined();
    expect(parseHandedIdentity(JSON.stringify(jwt), 'introspection')).toBeUndefined();
    // Never an identity the introspection verifier does not make: another issuer's name (whose identity mode would apply), a service principal.
    expect(parseHandedIdentity(JSON.stringify({ ...opaque, issuer: 'entra' }), 'introspection')).toBeUndefined();
    expect(parseHandedIdentity(JSON.stringify({ ...opaque, isServicePrincipal: true }), 'introspection')).toBeUndefined();
  });

  it("the introspection fingerprint follows the endpoint, the client and the fields read, never the client's secret or private key", () => {
    const base = validate({ introspection: { enabled: true, endpoint: 'https://idp/introspect', clientId: 'c', clientSecret: 's1' } });
    if (!base.ok) throw new Error(JSON.stringify(base.issues));
    const fp = (over: Record<string, unknown>) => INTROSPECTION_HANDOVER.fingerprint({ ...base.config, introspection: { ...base.config.introspection, ...over } });
    const same = fp({});
    expect(fp({ clientSecret: 'another' })).toBe(same);
    expect(fp({ privateKeyPem: 'another' })).toBe(same);
    for (const over of [{ endpoint: 'https://other/introspect' }, { clientId: 'd' }, { usernameField: 'sub' }, { groupsField: 'roles' }, { cacheSec: 5 }]) expect(fp(over), JSON.stringify(over)).not.toBe(same);
    expect(INTROSPECTION_HANDOVER.fingerprint(base.config, '9.9.9')).not.toBe(same);
    expect(INTROSPECTION_HANDOVER.fingerprint({ ...base.config, enforcement: { ...base.config.enforcement, mode: 'report' } })).not.toBe(same);
  });
});
