import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTClaimVerificationOptions } from 'jose';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../clock.js';
import { compilePolicy, type Policy } from '../../../config/policy.js';
import { validate } from '../../../config/validate.js';
import { SidecarError } from '../../../errors.js';
import type { RequestState } from '../../state.js';
import { JiraGroupLookup } from './jira-groups.js';
import { selfSign } from '../../../../test/helpers/certs.js';
import type { FetchLike, KeySource } from './key-source.js';
import { JwtVerifier, claimsOfVerified, mapJoseError } from './verifier.js';

const T0 = 1_800_000_000_000;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'spki' }).toString();
const noFetch: FetchLike = async () => {
  throw new Error('no network in this test');
};

function policyOf(issuer: Record<string, unknown>, extra: Record<string, unknown> = {}): Policy {
  const { jwt, ...rest } = extra as { jwt?: Record<string, unknown> };
  const v = validate({ jwt: { ...jwt, issuers: [{ name: 'p', issuer: 'https://idp', audiences: ['api://x'], keys: { publicKeyPem: pem(rsa.publicKey) }, ...issuer }] }, ...rest });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return compilePolicy(v.config);
}

function sign(key: KeyObject, claims: Record<string, unknown>, alg = 'RS256', nowMs = T0) {
  return new SignJWT({ iss: 'https://idp', aud: 'api://x', preferred_username: 'alice', ...claims })
    .setProtectedHeader({ alg })
    .setIssuedAt(Math.floor(nowMs / 1000))
    .sign(key);
}

function harness(policy: Policy, fetchImpl: FetchLike = noFetch) {
  const clock = fixedClock(T0);
  let current = policy;
  const v = new JwtVerifier({ clock, fetch: fetchImpl, getPolicy: () => current });
  let keyLookups = 0;
  const orig = v.sourceFor.bind(v);
  v.sourceFor = (i) => {
    const s = orig(i);
    const counted: KeySource = { description: s.description, status: () => s.status(), warm: () => s.warm(), getKey: (h, t) => (keyLookups++, s.getKey(h, t)) };
    return counted;
  };
  const run = async (token: string, p = current) => {
    const st = { requestId: 't', policy: p, facts: {} as RequestState['facts'], verdicts: [] } as RequestState;
    try {
      return (await v.verify({ kind: 'jwt', action: 'verify', secret: token }, st)).username;
    } catch (e) {
      return e instanceof SidecarError ? e.code : `other ${(e as Error).message}`;
    }
  };
  return { v, clock, run, lookups: () => keyLookups, policy: () => current, setPolicy: (p: Policy) => (current = p) };
}

const exp = (secFromT0: number) => Math.floor(T0 / 1000) + secFromT0;

describe('JwtVerifier key sources', () => {
  it('PEM public key', async () => {
    const h = harness(policyOf({}));
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300) }))).toBe('alice');
    expect(await h.run(await sign(other.privateKey, { exp: exp(300) }))).toBe('token_invalid');
  });

  it('PEM EC key with an ES256 allow-list', async () => {
    const h = harness(policyOf({ keys: { publicKeyPem: pem(ec.publicKey) }, algorithms: ['ES256'] }));
    expect(await h.run(await sign(ec.privateKey, { exp: exp(300) }, 'ES256'))).toBe('alice');
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300) }))).toBe('token_invalid');
  });

  it('X.509 certificate', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'x509-'));
    let cert: string;
    try {
      writeFileSync(path.join(dir, 'k.pem'), rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }));
      selfSign(path.join(dir, 'k.pem'), path.join(dir, 'c.pem'), 'idp-signing');
      cert = readFileSync(path.join(dir, 'c.pem'), 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const h = harness(policyOf({ keys: { certificatePem: cert } }));
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300) }))).toBe('alice');
    expect(await h.run(await sign(other.privateKey, { exp: exp(300) }))).toBe('token_invalid');
    expect((await h.v.readiness(policyOf({ keys: { certificatePem: cert } }))).ok).toBe(true);
  });

  it('an unreadable PEM is auth_unavailable and not ready (never an allow)', async () => {
    const p = policyOf({ keys: { publicKeyPem: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' } });
    const h = harness(p);
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300) }))).toBe('auth_unavailable');
    expect((await h.v.readiness(p)).ok).toBe(false);
  });
});

describe('JwtVerifier cache', () => {
  it('serves a verified token from the cache (keyed by hash) without another key lookup', async () => {
    const h = harness(policyOf({}));
    const t = await sign(rsa.privateKey, { exp: exp(300) });
    expect(await h.run(t)).toBe('alice');
    expect(await h.run(t)).toBe('alice');
    expect(h.lookups()).toBe(1);
    expect(h.v.cacheSize).toBe(1);
  });

  it('never serves a token past its exp', async () => {
    const h = harness(policyOf({ clockToleranceSec: 0 }));
    const t = await sign(rsa.privateKey, { exp: exp(100) });
    expect(await h.run(t)).toBe('alice');
    h.clock.advance(101_000);
    expect(await h.run(t)).toBe('token_expired');
  });

  it('keeps an entry at most keyCache.maxAgeSec', async () => {
    const h = harness(policyOf({ keyCache: { maxAgeSec: 10 } }));
    const t = await sign(rsa.privateKey, { exp: exp(3600) });
    await h.run(t);
    h.clock.advance(11_000);
    await h.run(t);
    expect(h.lookups()).toBe(2);
  });

  it('a result judged under one policy version is not served under another', async () => {
    const h = harness(policyOf({}));
    const t = await sign(rsa.privateKey, { exp: exp(300) });
    expect(await h.run(t)).toBe('alice');
    const stricter = policyOf({ audiences: ['api://other'] });
    h.setPolicy(stricter);
    expect(await h.run(t, stricter)).toBe('token_invalid');
  });

  it('onReload empties the cache', async () => {
    const p = policyOf({});
    const h = harness(p);
    await h.run(await sign(rsa.privateKey, { exp: exp(300) }));
    h.v.onReload(p);
    expect(h.v.cacheSize).toBe(0);
  });

  it('a bad signature is refused from memory for a minute (one key lookup per forged token), then checked again', async () => {
    const h = harness(policyOf({}));
    const forged = await sign(other.privateKey, { exp: exp(300) });
    expect(await h.run(forged)).toBe('token_invalid');
    expect(await h.run(forged)).toBe('token_invalid');
    expect(h.lookups()).toBe(1);
    expect(await h.run(await sign(other.privateKey, { exp: exp(300), jti: 'another' }))).toBe('token_invalid');
    expect(h.lookups()).toBe(2);
    h.clock.advance(61_000);
    expect(await h.run(forged)).toBe('token_invalid');
    expect(h.lookups()).toBe(3);
  });

  it('every bad signature is refused with one shared, frozen error (no object per forgery), same answer for each', async () => {
    const h = harness(policyOf({}));
    const refusalOf = async (token: string) => {
      const st = { requestId: 't', policy: h.policy(), facts: {} as RequestState['facts'], verdicts: [] } as RequestState;
      try {
        await h.v.verify({ kind: 'jwt', action: 'verify', secret: token }, st);
      } catch (e) {
        return e as SidecarError;
      }
      throw new Error('a forged token was accepted');
    };
    const a = await refusalOf(await sign(other.privateKey, { exp: exp(300), jti: 'a' }));
    const b = await refusalOf(await sign(other.privateKey, { exp: exp(300), jti: 'b' }));
    const remembered = await refusalOf(await sign(other.privateKey, { exp: exp(300), jti: 'a' }));
    expect(a).toBeInstanceOf(SidecarError);
    expect([a.code, a.rule, a.status]).toEqual(['token_invalid', 'signature', 401]);
    expect(b).toBe(a);
    expect(remembered).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a.stack?.split('\n').length ?? 1).toBeLessThanOrEqual(1); // no stack trace of whoever threw it first
    // jose's own signature failure (algorithms node:crypto leaves to it) maps to the same refusal,
    // whose detail is exactly what jose's error would have given.
    const jose = new joseErrors.JWSSignatureVerificationFailed();
    expect(mapJoseError(jose)).toBe(a);
    expect(a.detail).toBe(`${jose.code}: ${jose.message}`);
    // A valid token afterwards is unaffected.
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300) }))).toBe('alice');
  });

  it('jwt.cacheSize bounds the cache; 0 disables it', async () => {
    const h = harness(policyOf({}, { jwt: { cacheSize: 2 } }));
    for (let i = 0; i < 5; i++) await h.run(await sign(rsa.privateKey, { exp: exp(300), jti: `j${i}` }));
    expect(h.v.cacheSize).toBe(2);
    const off = harness(policyOf({}, { jwt: { cacheSize: 0 } }));
    await off.run(await sign(rsa.privateKey, { exp: exp(300) }));
    expect(off.v.cacheSize).toBe(0);
  });

  it('requiredClaims: a token without a listed claim is refused', async () => {
    const h = harness(policyOf({ requiredClaims: ['exp', 'jti'] }));
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300) }))).toBe('token_invalid');
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300), jti: 'x' }))).toBe('alice');
  });

  it('nbf within the clock tolerance is accepted, beyond it refused', async () => {
    const h = harness(policyOf({ clockToleranceSec: 60 }));
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300), nbf: exp(30) }))).toBe('alice');
    expect(await h.run(await sign(rsa.privateKey, { exp: exp(300), nbf: exp(90) }))).toBe('token_invalid');
  });
});

describe('JwtVerifier signature pre-check (node:crypto before jose)', () => {
  /** code/rule of the refusal, or the username. */
  async function outcome(v: JwtVerifier, token: string, p: Policy) {
    const st = { requestId: 't', policy: p, facts: {} as RequestState['facts'], verdicts: [] } as RequestState;
    try {
      return (await v.verify({ kind: 'jwt', action: 'verify', secret: token }, st)).username;
    } catch (e) {
      return e instanceof SidecarError ? `${e.code}/${e.rule}` : `other ${(e as Error).message}`;
    }
  }
  /** A never-seen forgery: the real header and claims, a random signature of `bytes`. */
  const forge = (token: string, bytes = 256) => `${token.slice(0, token.lastIndexOf('.'))}.${randomBytes(bytes).toString('base64url')}`;

  it('PEM key: a forged RS256 token is token_invalid/signature, a valid one still verifies', async () => {
    const p = policyOf({});
    const v = new JwtVerifier({ clock: fixedClock(T0), fetch: noFetch, getPolicy: () => p });
    const valid = await sign(rsa.privateKey, { exp: exp(300) });
    for (let i = 0; i < 3; i++) expect(await outcome(v, forge(valid), p)).toBe('token_invalid/signature');
    expect(await outcome(v, valid, p)).toBe('alice');
  });

  it('JWKS key (a WebCrypto CryptoKey): forged RS256 and PS256 tokens refused, valid ones verify', async () => {
    const jwks = { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256' }, { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'p1', alg: 'PS256' }] };
    const p = policyOf({ keys: { jwksUri: 'https://idp/keys' }, algorithms: ['RS256', 'PS256'] });
    const v = new JwtVerifier({ clock: fixedClock(T0), fetch: async () => Response.json(jwks), getPolicy: () => p });
    for (const [alg, kid] of [['RS256', 'r1'], ['PS256', 'p1']] as const) {
      const valid = await new SignJWT({ iss: 'https://idp', aud: 'api://x', preferred_username: 'alice', exp: exp(300) }).setProtectedHeader({ alg, kid }).sign(rsa.privateKey);
      expect(await outcome(v, forge(valid), p)).toBe('token_invalid/signature');
      expect(await outcome(v, valid, p)).toBe('alice');
    }
  });

  it('ES256: a forged signature of the right or the wrong length is token_invalid/signature', async () => {
    const p = policyOf({ keys: { publicKeyPem: pem(ec.publicKey) }, algorithms: ['ES256'] });
    const v = new JwtVerifier({ clock: fixedClock(T0), fetch: noFetch, getPolicy: () => p });
    const valid = await sign(ec.privateKey, { exp: exp(300) }, 'ES256');
    expect(await outcome(v, forge(valid, 64), p)).toBe('token_invalid/signature');
    expect(await outcome(v, forge(valid, 256), p)).toBe('token_invalid/signature');
    expect(await outcome(v, valid, p)).toBe('alice');
  });

  it('EdDSA with a PEM Ed25519 key', async () => {
    const ed = generateKeyPairSync('ed25519');
    const p = policyOf({ keys: { publicKeyPem: pem(ed.publicKey) }, algorithms: ['EdDSA'] });
    const v = new JwtVerifier({ clock: fixedClock(T0), fetch: noFetch, getPolicy: () => p });
    const valid = await sign(ed.privateKey, { exp: exp(300) }, 'EdDSA');
    expect(await outcome(v, forge(valid, 64), p)).toBe('token_invalid/signature');
    expect(await outcome(v, valid, p)).toBe('alice');
  });

  it('a good signature still goes through jose: an expired or wrong-audience token is refused by its claims', async () => {
    const p = policyOf({ clockToleranceSec: 0 });
    const v = new JwtVerifier({ clock: fixedClock(T0), fetch: noFetch, getPolicy: () => p });
    expect(await outcome(v, await sign(rsa.privateKey, { exp: exp(-10) }), p)).toBe('token_expired/exp');
    expect(await outcome(v, await sign(rsa.privateKey, { exp: exp(300), aud: 'api://other' }), p)).toBe('token_invalid/aud');
  });

  it('claims of a verified signature are judged exactly as jwtVerify judges them (code, rule, detail, payload)', async () => {
    const checks: JWTClaimVerificationOptions = { audience: ['api://x', 'api://y'], clockTolerance: 60, currentDate: new Date(T0), requiredClaims: ['exp'] };
    const judge = async (f: () => unknown) => {
      try {
        return { ok: await f() };
      } catch (e) {
        const m = mapJoseError(e);
        return { code: m.code, rule: m.rule, detail: m.detail };
      }
    };
    const cases: Array<Record<string, unknown>> = [
      { exp: exp(300) },
      { exp: exp(-30) }, // expired, within the tolerance
      { exp: exp(-90) }, // expired beyond it
      { exp: exp(300), nbf: exp(30) },
      { exp: exp(300), nbf: exp(90) },
      { exp: exp(300), nbf: 'soon' },
      { exp: 'later' },
      { exp: exp(300), iat: 'then' },
      { exp: exp(300), aud: 'api://y' },
      { exp: exp(300), aud: ['api://z', 'api://x'] },
      { exp: exp(300), aud: 'api://other' },
      { exp: exp(300), aud: [] },
      { exp: exp(300), aud: 7 },
      { exp: exp(300), iat: exp(-60) },
      {}, // no exp: required
    ];
    const verdicts: string[] = [];
    for (const claims of cases) {
      // No setIssuedAt here (sign() would overwrite a case's own iat).
      const token = await new SignJWT({ iss: 'https://idp', aud: 'api://x', preferred_username: 'alice', ...claims }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
      const viaJose = await judge(async () => (await jwtVerify(token, rsa.publicKey, checks)).payload);
      const ours = await judge(() => claimsOfVerified(token.split('.')[1]!, checks));
      expect(ours, JSON.stringify(claims)).toEqual(viaJose);
      verdicts.push('ok' in ours ? 'ok' : `${ours.code}/${ours.rule}`);
    }
    // The cases reach every kind of verdict, not just one.
    expect(new Set(verdicts)).toEqual(new Set(['ok', 'token_expired/exp', 'token_invalid/nbf', 'token_invalid/exp', 'token_invalid/iat', 'token_invalid/aud']));
  });

  it('a good signature over other bytes never lends them its validity (payload, header or signature swapped)', async () => {
    const p = policyOf({ keys: { publicKeyPem: pem(rsa.publicKey) }, algorithms: ['RS256', 'PS256'] });
    const v = new JwtVerifier({ clock: fixedClock(T0), fetch: noFetch, getPolicy: () => p });
    const alice = await sign(rsa.privateKey, { exp: exp(300) });
    const admin = await sign(rsa.privateKey, { exp: exp(300), preferred_username: 'admin', groups: ['jira-administrators'] });
    const [ah, ap, as] = alice.split('.') as [string, string, string];
    const [, mp, ms] = admin.split('.') as [string, string, string];
    const ps = await sign(rsa.privateKey, { exp: exp(300) }, 'PS256');
    expect(await outcome(v, `${ah}.${mp}.${as}`, p)).toBe('token_invalid/signature'); // admin's claims, alice's signature
    expect(await outcome(v, `${ah}.${ap}.${ms}`, p)).toBe('token_invalid/signature'); // alice's claims, admin's signature
    expect(await outcome(v, `${ps.split('.')[0]}.${ap}.${as}`, p)).toBe('token_invalid/signature'); // alg switched to PS256 in the header
    const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(ap, 'base64url').toString()), groups: ['jira-administrators'] })).toString('base64url');
    expect(await outcome(v, `${ah}.${widened}.${as}`, p)).toBe('token_invalid/signature'); // a claim added
    expect(await outcome(v, admin, p)).toBe('admin');
    expect(await outcome(v, alice, p)).toBe('alice');
  });

  it('a key that does not fit the alg is never an allow (EC key, RS256 header and allow-list)', async () => {
    const p = policyOf({ keys: { publicKeyPem: pem(ec.publicKey) }, algorithms: ['RS256', 'ES256'] });
    const v = new JwtVerifier({ clock: fixedClock(T0), fetch: noFetch, getPolicy: () => p });
    expect(await outcome(v, await sign(rsa.privateKey, { exp: exp(300) }), p)).toMatch(/^token_invalid\//);
  });

  it('an undecodable token keeps its code and rule', async () => {
    const p = policyOf({});
    const v = new JwtVerifier({ clock: fixedClock(T0), fetch: noFetch, getPolicy: () => p });
    const valid = await sign(rsa.privateKey, { exp: exp(300) });
    const [h, , s] = valid.split('.');
    for (const bad of ['nope', `${h}.bm90IGpzb24.${s}`, `${h}.WzFd.${s}`, `${h}..${s}`, `${h}.${Buffer.from([0xff, 0xfe]).toString('base64url')}.${s}`]) {
      expect(await outcome(v, bad, p), bad.slice(0, 20)).toBe('token_invalid/jwt');
    }
  });
});

describe('JiraGroupLookup', () => {
  const policy = policyOf({}, { jiraGroupLookup: { authorization: 'Bearer svc-pat', cacheSec: 60 } });
  it('reads groups.items, caches per user, sends the service credential', async () => {
    const calls: Array<{ url: string; auth: string }> = [];
    const f: FetchLike = async (url, init) => {
      calls.push({ url, auth: String((init?.headers as Record<string, string>).authorization) });
      return Response.json({ name: 'alice', groups: { size: 2, items: [{ name: 'g1' }, { name: 'g2' }] } });
    };
    const g = new JiraGroupLookup(f, fixedClock(T0));
    expect(await g.groupsOf('alice', policy)).toEqual(['g1', 'g2']);
    expect(await g.groupsOf('alice', policy)).toEqual(['g1', 'g2']);
    expect(calls).toEqual([{ url: 'http://127.0.0.1:8080/rest/api/2/user?username=alice&expand=groups', auth: 'Bearer svc-pat' }]);
  });
  it('an unknown user has no groups; any other failure is auth_unavailable', async () => {
    const code = async (f: FetchLike) => {
      try {
        return await new JiraGroupLookup(f, fixedClock(T0)).groupsOf('a b', policy);
      } catch (e) {
        return (e as SidecarError).code;
      }
    };
    expect(await code(async () => new Response('{}', { status: 404 }))).toEqual([]);
    expect(await code(async () => new Response('{}', { status: 401 }))).toBe('auth_unavailable');
    expect(await code(async () => new Response('not json', { status: 200 }))).toBe('auth_unavailable');
    expect(await code(async () => Response.json({ name: 'x' }))).toBe('auth_unavailable');
    expect(await code(noFetch)).toBe('auth_unavailable');
  });
});
