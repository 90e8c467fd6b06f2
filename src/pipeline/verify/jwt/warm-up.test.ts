// The JWT part of the start-up warm-up: tokens of a throw-away key are accepted for requests the
// warm-up marked, and only while it runs; the configured issuers' keys are fetched and imported
// first; nothing is asked of an identity provider beyond the keys readiness needs anyway.
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, exportJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../clock.js';
import { compilePolicy, type Policy } from '../../../config/policy.js';
import { validate } from '../../../config/validate.js';
import { SidecarError } from '../../../errors.js';
import type { RequestState } from '../../state.js';
import type { FetchLike } from './key-source.js';
import { JwtVerifier } from './verifier.js';
import { warmupUsernameClaim } from './warm-up.js';

const T0 = 1_800_000_000_000;
const idp = generateKeyPairSync('rsa', { modulusLength: 2048 });

function policyOf(issuer: Record<string, unknown>): Policy {
  const v = validate({ jwt: { issuers: [{ name: 'p', issuer: 'https://idp', audiences: ['api://x'], ...issuer }] } });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return compilePolicy(v.config);
}

async function harness(policy: Policy) {
  const jwk = { ...(await exportJWK(idp.publicKey)), kid: 'idp-1', alg: 'RS256' };
  const fetched: string[] = [];
  const fetchImpl: FetchLike = async (url) => {
    fetched.push(url);
    return new Response(JSON.stringify({ keys: [jwk] }), { status: 200 });
  };
  const v = new JwtVerifier({ clock: fixedClock(T0), fetch: fetchImpl, getPolicy: () => policy });
  const run = async (token: string, warmup: boolean) => {
    const st = { requestId: 't', policy, facts: {} as RequestState['facts'], verdicts: [], ...(warmup ? { warmup: true } : {}) } as RequestState;
    try {
      return (await v.verify({ kind: 'jwt', action: 'verify', secret: token }, st)).username;
    } catch (e) {
      return e instanceof SidecarError ? `${e.code} ${e.rule}` : `other ${(e as Error).message}`;
    }
  };
  return { v, run, fetched };
}

const jwks = { keys: { jwksUri: 'https://idp/keys' }, keyCache: { cooldownSec: 0 } };

describe('JWT warm-up (throw-away key)', () => {
  it('accepts its tokens for requests the warm-up marked only, and forgets them and their cached results when it ends', async () => {
    const p = policyOf(jwks);
    const h = await harness(p);
    const tokens = (await h.v.beginWarmup(p, 3))!;
    expect(tokens).toHaveLength(3);
    expect(h.fetched).toEqual(['https://idp/keys']); // the issuer's keys, fetched once (what readiness needs)
    // Not marked: judged with the issuer's keys, which do not have the throw-away kid.
    expect(await h.run(tokens[1]!, false)).toBe('token_invalid jwks');
    expect(await h.run(tokens[0]!, true)).toBe('warm-up-0');
    expect(await h.run(tokens[0]!, true)).toBe('warm-up-0'); // from the cache of verified tokens
    expect(h.v.cacheSize).toBe(1);
    // A forgery of a warm-up token is refused like any.
    const forged = `${tokens[2]!.slice(0, tokens[2]!.lastIndexOf('.') + 1)}${'A'.repeat(342)}`;
    expect(await h.run(forged, true)).toBe('token_invalid signature');
    h.v.endWarmup();
    expect(h.v.cacheSize).toBe(0);
    expect(await h.run(tokens[0]!, true)).toBe('token_invalid jwks');
    expect(await h.run(tokens[0]!, false)).toBe('token_invalid jwks');
    // Every later key fetch was the issuer's own refetch for an unknown kid (cooldown 0 here), never for the warm-up.
    expect(h.fetched.every((u) => u === 'https://idp/keys')).toBe(true);
    // The issuer's real tokens are unaffected.
    const real = await new SignJWT({ preferred_username: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'idp-1' }).setIssuer('https://idp').setAudience('api://x').setExpirationTime(T0 / 1000 + 300).sign(idp.privateKey);
    expect(await h.run(real, false)).toBe('alice');
  });

  it('signs what the issuer accepts: its algorithm, a {tenantid} template with an allowed tenant, required claims, every username claim', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const p = policyOf({
      issuer: 'https://login.example/{tenantid}/v2.0',
      allowedTenants: ['Tenant-1'],
      keys: { publicKeyPem: ec.publicKey.export({ format: 'pem', type: 'spki' }).toString() },
      algorithms: ['ES256'],
      requiredClaims: ['exp', 'oid'],
      usernameClaim: ['upn', 'preferred_username'],
    });
    const h = await harness(p);
    const [token] = (await h.v.beginWarmup(p, 1))!;
    const header = JSON.parse(Buffer.from(token!.split('.')[0]!, 'base64url').toString()) as { alg: string; kid: string };
    expect(header.alg).toBe('ES256');
    expect(header.kid).toMatch(/^warm-up-/);
    expect(await h.run(token!, true)).toBe('warm-up-0');
    expect(await h.run(token!, false)).toBe('warm-up-0'); // cached meanwhile: the token never leaves the process
    h.v.endWarmup();
    expect(await h.run(token!, false)).toBe('token_invalid signature'); // the configured PEM key: not the throw-away one
    expect(h.fetched).toEqual([]); // a PEM issuer: nothing fetched at all
  });

  it('without issuers there are no warm-up tokens', async () => {
    const v = validate({});
    if (!v.ok) throw new Error('config');
    const h = new JwtVerifier({ clock: fixedClock(T0), fetch: async () => new Response('{}'), getPolicy: () => compilePolicy(v.config) });
    expect(await h.beginWarmup(compilePolicy(v.config), 5)).toBeUndefined();
    h.endWarmup();
  });
});

describe('the warm-up tokens\' username claim (warmupUsernameClaim)', () => {
  const claimFor = (pattern?: string) => warmupUsernameClaim({ usernameRegex: pattern === undefined ? undefined : new RegExp(pattern) }, 'warm-up-7');
  it('is the user itself without usernameRegex', () => expect(claimFor()).toBe('warm-up-7'));
  it('is a shape the pattern maps: user@domain, DOMAIN\\user, or the pattern\'s own literal text', () => {
    expect(claimFor('^([^@]+)@')).toBe('warm-up-7@warm-up.invalid');
    expect(claimFor('^([^@]+)@corp\\.example$')).toBe('warm-up-7@corp.example');
    expect(claimFor('^CORP\\\\(.+)$')).toBe('CORP\\warm-up-7');
    for (const p of ['^([^@]+)@', '^([^@]+)@corp\\.example$', '^CORP\\\\(.+)$']) expect(new RegExp(p).exec(claimFor(p)!)?.[1]).toBe('warm-up-7');
  });
  it('is undefined when no usual shape fits (its tokens are then refused, as such a caller would be)', () => {
    expect(claimFor('^user-(\\d+)$')).toBeUndefined();
    expect(claimFor('^(?:x)([a-z]+)@(a|b)$')).toBeUndefined();
  });
});
