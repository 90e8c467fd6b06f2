import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign, compactVerify } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../../../clock.js';
import { SidecarError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { createMetrics } from '../../metrics/metrics.js';
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

// A moved jwks_uri, against real servers on 127.0.0.1: one discovery document and two JWKS endpoints
// with different keys. Tokens are real ES256 JWS verified by jose with the source as its key lookup.
describe('DiscoverySource follows a moved jwks_uri', () => {
  type Mode = 'up' | 'down' | 'garbage';
  interface Served {
    url: string;
    requests: number;
    mode: Mode;
    body: () => unknown;
    close(): Promise<void>;
  }
  const open: Served[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  async function serve(body: () => unknown): Promise<Served> {
    const served: Served = { url: '', requests: 0, mode: 'up', body, close: () => new Promise((r) => server.close(() => r())) };
    const server = http.createServer((req, res) => {
      served.requests++;
      if (served.mode === 'down') return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(served.mode === 'garbage' ? '{"issuer":"x"}' : JSON.stringify(served.body()));
    });
    server.keepAliveTimeout = 1; // no idle sockets left behind at close
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    served.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    open.push(served);
    return served;
  }

  function signer(kid: string) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
    const sign = () => new CompactSign(new TextEncoder().encode('{"sub":"alice"}')).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
    return { jwk, sign };
  }

  /** discovery -> jwksA (key A); jwksB publishes key B (and whatever `bKeys` says). */
  async function setup(over: Partial<{ maxAgeSec: number; cooldownSec: number }> = {}) {
    const A = signer('kid-a');
    const B = signer('kid-b');
    const state = { jwksUri: '', bKeys: [B.jwk] as object[] };
    const jwksA = await serve(() => ({ keys: [A.jwk] }));
    const jwksB = await serve(() => ({ keys: state.bKeys }));
    const disc = await serve(() => ({ issuer: disc.url, jwks_uri: state.jwksUri }));
    state.jwksUri = `${jwksA.url}/keys`;
    const clock = fixedClock(1_000_000);
    const logs: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const logger = {
      info: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'info', obj, msg }),
      warn: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'warn', obj, msg }),
    } as unknown as Logger;
    const metrics = createMetrics(false);
    const opts = { fetch, clock, logger, metrics, maxAgeSec: 600, cooldownSec: 30, timeoutMs: 5000, ...over };
    const s = new DiscoverySource({ ...opts, url: disc.url });
    const verify = async (jws: string) => codeOf(compactVerify(jws, (h, t) => s.getKey(h, t)));
    const counts = () => ({ disc: disc.requests, a: jwksA.requests, b: jwksB.requests });
    /** Waits until `n` JWKS fetches have ended (metrics), then lets the refresh finish its bookkeeping. */
    const jwksFetchesDone = async (n: number) => {
      await vi.waitFor(async () => expect(Object.entries(await observed()).filter(([k]) => k.startsWith('jwks/')).reduce((a, [, v]) => a + v, 0)).toBe(n), { timeout: 5000, interval: 10 });
      await new Promise((r) => setImmediate(r));
    };
    /** sidecar_idp_request_duration_seconds observations by "kind/outcome". */
    const observed = async () =>
      Object.fromEntries(
        (await metrics.idpRequests.get()).values.filter((v) => v.metricName?.endsWith('_count')).map((v) => [`${v.labels.kind}/${v.labels.outcome}`, v.value]),
      );
    return { A, B, state, jwksA, jwksB, disc, clock, logs, s, opts, verify, counts, observed, jwksFetchesDone };
  }

  it('an unknown kid after the cooldown re-reads discovery and verifies against the new jwks_uri; the old key verifies while cached', async () => {
    const t = await setup();
    expect(await t.verify(await t.A.sign())).toBe('ok');
    expect(t.counts()).toEqual({ disc: 1, a: 1, b: 0 });

    t.state.jwksUri = `${t.jwksB.url}/keys`; // the IdP moves its keys
    expect(await t.verify(await t.A.sign())).toBe('ok'); // still cached: no fetch
    expect(await t.verify(await t.B.sign())).toBe('token_invalid'); // within the cooldown, as before
    expect(t.counts()).toEqual({ disc: 1, a: 1, b: 0 });

    t.clock.advance(31_000);
    expect(await t.verify(await t.B.sign())).toBe('ok');
    expect(t.counts()).toEqual({ disc: 2, a: 1, b: 1 });
    expect(t.s.status()).toMatchObject({ ok: true });
    expect(t.s.status().detail).toContain(t.jwksB.url);
    const moved = t.logs.filter((l) => l.level === 'info');
    expect(moved).toHaveLength(1);
    expect(moved[0]!.obj).toMatchObject({ from: `${t.jwksA.url}/keys`, to: `${t.jwksB.url}/keys` });

    // The key set is now what the new jwks_uri publishes: key A is gone from it.
    expect(await t.verify(await t.A.sign())).toBe('token_invalid');
    expect(await t.verify(await t.B.sign())).toBe('ok');
    expect(t.counts()).toEqual({ disc: 2, a: 1, b: 1 });
    expect(await t.observed()).toEqual({ 'discovery/ok': 2, 'jwks/ok': 2 });
  });

  it('the refresh after maxAgeSec follows the move in the background; the old key keeps verifying while the new set has it', async () => {
    const t = await setup();
    expect(await t.verify(await t.A.sign())).toBe('ok');
    t.state.jwksUri = `${t.jwksB.url}/keys`;
    t.state.bKeys = [t.B.jwk, t.A.jwk]; // rotation overlap: the new endpoint still publishes the old key

    t.clock.advance(601_000);
    expect(await t.verify(await t.A.sign())).toBe('ok'); // answered from the stale set, refresh started
    await t.jwksFetchesDone(2);
    expect(t.s.status().detail).toContain(t.jwksB.url);
    expect(t.counts()).toEqual({ disc: 2, a: 1, b: 1 });
    expect(await t.verify(await t.B.sign())).toBe('ok'); // no unknown-kid refetch needed
    expect(await t.verify(await t.A.sign())).toBe('ok');
    expect(t.counts()).toEqual({ disc: 2, a: 1, b: 1 });
  });

  it('a new jwks_uri that does not answer: the old URL and keys stay until the new one does', async () => {
    const t = await setup();
    expect(await t.verify(await t.A.sign())).toBe('ok');
    t.state.jwksUri = `${t.jwksB.url}/keys`;
    t.jwksB.mode = 'down';
    t.clock.advance(31_000);
    expect(await t.verify(await t.B.sign())).toBe('auth_unavailable'); // cannot know: never an allow, never invalid
    expect(await t.verify(await t.A.sign())).toBe('ok');
    expect(t.s.status()).toMatchObject({ ok: true });
    expect(t.s.status().detail).toContain(`${t.jwksA.url}/keys:`);
    expect(t.counts()).toEqual({ disc: 2, a: 1, b: 1 });
    t.jwksB.mode = 'up';
    t.clock.advance(31_000);
    expect(await t.verify(await t.B.sign())).toBe('ok');
    expect(t.s.status().detail).toContain(`${t.jwksB.url}/keys:`);
    expect(t.counts()).toEqual({ disc: 3, a: 1, b: 2 });
  });

  it.each<Mode>(['down', 'garbage'])('discovery %s during a refresh: the current jwks_uri and its keys stay in use', async (mode) => {
    const t = await setup();
    expect(await t.verify(await t.A.sign())).toBe('ok');
    t.state.jwksUri = `${t.jwksB.url}/keys`; // unreadable below, so never seen
    t.disc.mode = mode;

    // Unknown kid after the cooldown: discovery fails, the current endpoint is refetched as before
    // (it answered, without that kid: token_invalid, not auth_unavailable).
    t.clock.advance(31_000);
    expect(await t.verify(await t.B.sign())).toBe('token_invalid');
    expect(await t.verify(await t.A.sign())).toBe('ok');
    expect(t.counts()).toEqual({ disc: 2, a: 2, b: 0 });

    // Stale-while-revalidate with discovery still failing: old keys keep answering.
    t.clock.advance(601_000);
    expect(await t.verify(await t.A.sign())).toBe('ok');
    await t.jwksFetchesDone(3);
    expect(t.counts()).toEqual({ disc: 3, a: 3, b: 0 });
    expect(await t.verify(await t.A.sign())).toBe('ok');
    expect(t.s.status()).toMatchObject({ ok: true });
    expect(t.s.status().detail).toContain('last discovery failed');
    expect(t.logs.filter((l) => l.level === 'info')).toEqual([]);
    // A document without a usable jwks_uri was still an answer (outcome ok), as at start-up.
    expect(await t.observed()).toEqual(mode === 'down' ? { 'discovery/ok': 1, 'discovery/error': 2, 'jwks/ok': 3 } : { 'discovery/ok': 3, 'jwks/ok': 3 });

    // Discovery and the JWKS both down: known kid still ok; an unknown kid is auth_unavailable, as before.
    t.jwksA.mode = 'down';
    t.clock.advance(31_000);
    expect(await t.verify(await t.B.sign())).toBe('auth_unavailable');
    expect(await t.verify(await t.A.sign())).toBe('ok');

    // Discovery back: the move is followed at the next refresh.
    t.disc.mode = 'up';
    t.clock.advance(31_000);
    expect(await t.verify(await t.B.sign())).toBe('ok');
    expect(t.s.status().detail).not.toContain('last discovery failed');
  });

  it('an unchanged jwks_uri costs no more JWKS fetches than a plain JWKS source, and one discovery read per refresh', async () => {
    const t = await setup();
    const plain = new JwksSource({ ...t.opts, logger: undefined, metrics: undefined, url: `${t.jwksB.url}/keys` });
    const viaDiscovery = (h: Parameters<typeof plain.getKey>[0], tok: Parameters<typeof plain.getKey>[1]) => t.s.getKey(h, tok);
    const direct = (h: Parameters<typeof plain.getKey>[0], tok: Parameters<typeof plain.getKey>[1]) => plain.getKey(h, tok);
    // The same traffic through both: jwksA serves the discovery source, jwksB (same key A) the plain one.
    t.state.bKeys = [t.A.jwk];
    const traffic = async (getKey: typeof direct) => {
      const out: string[] = [];
      const v = async (jws: string) => out.push(await codeOf(compactVerify(jws, getKey)));
      for (let i = 0; i < 5; i++) await v(await t.A.sign());
      for (let i = 0; i < 5; i++) await v(await t.B.sign()); // unknown kid: one refetch per cooldown at most
      return out;
    };
    const start = t.clock.now();
    const runs: string[][] = [];
    for (const [getKey, server] of [[viaDiscovery, t.jwksA], [direct, t.jwksB]] as const) {
      t.clock.set(start);
      runs.push(await traffic(getKey));
      t.clock.advance(31_000);
      runs.push(await traffic(getKey));
      t.clock.advance(601_000); // stale: one background refresh
      runs.push(await traffic(getKey));
      await vi.waitFor(() => expect(server.requests).toBe(3), { timeout: 5000, interval: 10 });
    }
    expect(runs.slice(0, 3)).toEqual(runs.slice(3));
    expect(runs[0]).toEqual([...Array(5).fill('ok'), ...Array(5).fill('token_invalid')]);
    expect(t.counts()).toEqual({ disc: 3, a: 3, b: 3 }); // a == b: no extra JWKS fetch; discovery once per refresh
    expect(t.logs.filter((l) => l.level === 'info')).toEqual([]);
  });
});
