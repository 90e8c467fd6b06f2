import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../clock.js';
import { SidecarError } from '../../../errors.js';
import { JwksSource, usableSigningKeys } from './jwks.js';
import { DiscoverySource, discoveryDocumentUrl } from './discovery.js';
import type { FetchLike } from './key-source.js';

const jwk = (kid: string) => ({ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' });
const K1 = jwk('k1');
const K2 = jwk('k2');
const header = (kid: string) => ({ alg: 'ES256', kid });
const token = { payload: '', signature: '', protected: '' };

/** A JWKS endpoint in memory: answers with `keys`, or fails while `down`; counts calls. */
function fakeEndpoint() {
  const ep = {
    keys: [K1] as object[],
    down: false,
    calls: 0,
    fetch: (async (url: string) => {
      ep.calls++;
      if (ep.down) throw new TypeError('fetch failed: connect ECONNREFUSED');
      if (url.endsWith('/.well-known/openid-configuration')) return Response.json({ issuer: 'https://idp', jwks_uri: 'https://idp/keys' });
      return Response.json({ keys: ep.keys });
    }) as FetchLike,
  };
  return ep;
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof SidecarError ? e.code : `other: ${(e as Error).message}`;
  }
};

function source(ep: ReturnType<typeof fakeEndpoint>, clock = fixedClock(1_000_000), over: Partial<{ maxAgeSec: number; cooldownSec: number }> = {}) {
  return { clock, s: new JwksSource({ url: 'https://idp/keys', fetch: ep.fetch, clock, maxAgeSec: 600, cooldownSec: 30, timeoutMs: 1000, ...over }) };
}

describe('JwksSource', () => {
  it('fetches once and serves known kids from memory', async () => {
    const ep = fakeEndpoint();
    const { s } = source(ep);
    for (let i = 0; i < 5; i++) expect(await codeOf(s.getKey(header('k1'), token))).toBe('ok');
    expect(ep.calls).toBe(1);
  });

  it('refetches on an unknown kid (rotation), at most once per cooldown', async () => {
    const ep = fakeEndpoint();
    const { s, clock } = source(ep);
    await s.getKey(header('k1'), token);
    clock.advance(31_000);
    ep.keys = [K1, K2];
    expect(await codeOf(s.getKey(header('k2'), token))).toBe('ok');
    expect(ep.calls).toBe(2);
    for (let i = 0; i < 10; i++) expect(await codeOf(s.getKey(header(`bogus-${i}`), token))).toBe('token_invalid');
    expect(ep.calls).toBe(2); // within the cooldown: no fetch for made-up kids
    clock.advance(30_000);
    expect(await codeOf(s.getKey(header('bogus-x'), token))).toBe('token_invalid');
    expect(ep.calls).toBe(3);
  });

  it('keeps the last good keys when the endpoint is down; an unknown kid is then auth_unavailable', async () => {
    const ep = fakeEndpoint();
    const { s, clock } = source(ep, undefined, { cooldownSec: 0 });
    await s.getKey(header('k1'), token);
    ep.down = true;
    clock.advance(3_600_000); // far beyond maxAge
    expect(await codeOf(s.getKey(header('k1'), token))).toBe('ok');
    expect(await codeOf(s.getKey(header('k9'), token))).toBe('auth_unavailable');
    expect(s.status().ok).toBe(true);
  });

  it('in the cooldown after a failed fetch, an unknown kid is auth_unavailable (not invalid, not allowed)', async () => {
    const ep = fakeEndpoint();
    const { s, clock } = source(ep);
    await s.getKey(header('k1'), token);
    clock.advance(31_000);
    ep.down = true;
    expect(await codeOf(s.getKey(header('k9'), token))).toBe('auth_unavailable');
    const calls = ep.calls;
    expect(await codeOf(s.getKey(header('k8'), token))).toBe('auth_unavailable');
    expect(ep.calls).toBe(calls);
  });

  it('refreshes after maxAgeSec in the background while the old keys keep answering', async () => {
    const ep = fakeEndpoint();
    const { s, clock } = source(ep);
    await s.getKey(header('k1'), token);
    clock.advance(601_000);
    ep.keys = [K2];
    expect(await codeOf(s.getKey(header('k1'), token))).toBe('ok'); // served from the old set
    await new Promise((r) => setImmediate(r));
    await s.warm();
    expect(ep.calls).toBe(2);
    expect(s.keyIds).toEqual(['k2']);
  });

  it('without any keys and the endpoint down: auth_unavailable, and not ready', async () => {
    const ep = fakeEndpoint();
    ep.down = true;
    const { s } = source(ep);
    expect(await codeOf(s.getKey(header('k1'), token))).toBe('auth_unavailable');
    expect(s.status()).toMatchObject({ ok: false });
    expect(s.status().detail).toContain('ECONNREFUSED');
  });

  it('a timeout is a failure like any other', async () => {
    const clock = fixedClock(0);
    const hanging: FetchLike = (_u, init) =>
      new Promise((_r, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error)));
    const s = new JwksSource({ url: 'https://idp/keys', fetch: hanging, clock, maxAgeSec: 600, cooldownSec: 0, timeoutMs: 50 });
    expect(await codeOf(s.getKey(header('k1'), token))).toBe('auth_unavailable');
    expect(s.status().detail).toContain('no answer within 50 ms');
  });
});

describe('usableSigningKeys', () => {
  it('drops symmetric, private, encryption and malformed entries', () => {
    const keys = usableSigningKeys({
      keys: [K1, { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }, { ...K2, use: 'enc' }, { ...K2, kid: 'priv', d: 'x' }, null, 'x', { kid: 'nokty' }],
    });
    expect(keys.map((k) => k.kid)).toEqual(['k1']);
  });
  it('refuses a set without usable keys', () => {
    expect(() => usableSigningKeys({ keys: [{ kty: 'oct', k: 'x' }] })).toThrow(/no usable/);
    expect(() => usableSigningKeys({})).toThrow(/no "keys"/);
  });
});

describe('DiscoverySource', () => {
  it('resolves jwks_uri from the discovery document', async () => {
    const ep = fakeEndpoint();
    const s = new DiscoverySource({ url: 'https://idp', fetch: ep.fetch, clock: fixedClock(0), maxAgeSec: 600, cooldownSec: 30, timeoutMs: 1000 });
    expect(await codeOf(s.getKey(header('k1'), token))).toBe('ok');
    expect(s.status()).toMatchObject({ ok: true });
  });
  it('is auth_unavailable while discovery fails', async () => {
    const ep = fakeEndpoint();
    ep.down = true;
    const s = new DiscoverySource({ url: 'https://idp', fetch: ep.fetch, clock: fixedClock(0), maxAgeSec: 600, cooldownSec: 30, timeoutMs: 1000 });
    expect(await codeOf(s.getKey(header('k1'), token))).toBe('auth_unavailable');
  });
  it.each([
    ['https://login.microsoftonline.com/t/v2.0', 'https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration'],
    ['https://idp/realm/', 'https://idp/realm/.well-known/openid-configuration'],
    ['https://idp/.well-known/openid-configuration', 'https://idp/.well-known/openid-configuration'],
  ])('%s -> %s', (input, out) => {
    expect(discoveryDocumentUrl(input)).toBe(out);
  });
});
