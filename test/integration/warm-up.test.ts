// Start-up warm-up (rolling restarts): /readyz says ready only after the sidecar has sent itself
// server.warmupRequests requests through its real listener; none of them reached Jira or an
// identity provider, none was audited or counted, and afterwards the marker header means nothing.
// Half of them carry JWTs of a throw-away key (verified for real, then cached, and forgeries of
// them): their results are forgotten and their rate-limit points never reach the real limiter.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SidecarError } from '../../src/errors.js';
import { JwtVerifier } from '../../src/pipeline/verify/jwt/verifier.js';
import { IntrospectionVerifier } from '../../src/pipeline/verify/introspection/verifier.js';
import type { Credential, RequestState } from '../../src/pipeline/state.js';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';
import { collectRehearsedRows } from '../helpers/audit.js';
import type { AuditRecord } from '../../src/pipeline/audit/sink.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;
let readyAtFirstLook: number;
/** What the JWT verifier answered the warm-up's own requests: a username, or the refusal's code. */
const warmupVerdicts: string[] = [];
/** Tokens the warm-up signed with its throw-away key and verified as valid (for the replay attack below). */
const warmupTokens: string[] = [];
/** The audit rows the warm-up built and dropped (QueuedAuditSink.rehearse). */
const rehearsed: AuditRecord[] = collectRehearsedRows();

beforeAll(async () => {
  const verify = JwtVerifier.prototype.verify;
  vi.spyOn(JwtVerifier.prototype, 'verify').mockImplementation(function (this: JwtVerifier, c: Credential, st: RequestState) {
    const note = (v: string) => void (st.warmup && warmupVerdicts.push(v));
    try {
      const r = verify.call(this, c, st);
      const valid = (username: string) => void (st.warmup && c.secret && username.startsWith('warm-up-') && warmupTokens.push(c.secret));
      if (!(r instanceof Promise)) return (note(r.username), valid(r.username), r);
      return r.then(
        (id) => (note(id.username), valid(id.username), id),
        (e: unknown) => {
          note(e instanceof SidecarError ? e.code : 'other');
          throw e;
        },
      );
    } catch (e) {
      note(e instanceof SidecarError ? e.code : 'other');
      throw e;
    }
  });
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    server: { warmupRequests: 600 },
    audit: { flushIntervalMs: 20 },
    // 600 warm-up requests: 300 valid JWTs of 100 warm-up users, 3 requests each (warm-up.ts).
    rateLimit: { enabled: true, points: 3, durationSec: 60, store: 'memory' },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
  readyAtFirstLook = (await fetch(`${sc.adminUrl}/readyz`)).status;
});
afterAll(async () => {
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

describe('start-up warm-up', () => {
  it('is ready once warmed, and the warm-up reached neither Jira nor the IdP and left no audit row or count', async () => {
    await until(async () => (await fetch(`${sc.adminUrl}/readyz`)).status === 200, 'ready after the warm-up');
    const checks = ((await (await fetch(`${sc.adminUrl}/readyz`)).json()) as { checks: Array<{ name: string; ok: boolean }> }).checks;
    expect(checks).toContainEqual({ name: 'warm-up', ok: true });
    expect([200, 503]).toContain(readyAtFirstLook);
    expect(upstream.seen).toHaveLength(0);
    expect(issuer.jwksFetches).toBeLessThanOrEqual(1); // the start-up key fetch only: the warm-up asked no key source
    expect(issuer.introspections).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 100)); // a flush interval: rows would be written by now
    expect(await sc.runtime.stores.audit.count({})).toBe(0);
    const metrics = await (await fetch(`${sc.adminUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/^sidecar_requests_total\{/m);
    // No latency observed either (the warm-up's go to an unregistered twin of the histogram).
    const observed = [...metrics.matchAll(/^sidecar_request_duration_seconds_count\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
    expect(observed.every((n) => n === 0)).toBe(true);
  });

  it('ran the path to Jira and back against its own stand-in, and built every audit row only to drop it', () => {
    // Allowed warm-up requests went through the forward stage to the warm-up's loopback server
    // (Jira's 200 answer recorded as the upstream status) while Jira itself saw nothing (above).
    const allowed = rehearsed.filter((r) => r.decision === 'allow');
    expect(allowed.length).toBeGreaterThanOrEqual(300); // the valid JWTs' requests at least
    expect(allowed.every((r) => r.upstreamStatus === 200 && r.status === 200)).toBe(true);
    expect(rehearsed.some((r) => r.decision === 'deny' && r.reason === 'token_invalid')).toBe(true); // the forgeries
    expect(rehearsed.length).toBe(600);
    expect(upstream.seen).toHaveLength(0);
  });

  it('ran the JWT path with its own throw-away key (never-seen, cached and forged tokens) and forgot it all', async () => {
    await until(async () => (await fetch(`${sc.adminUrl}/readyz`)).status === 200, 'ready after the warm-up');
    vi.mocked(JwtVerifier.prototype.verify).mockRestore();
    const allowed = warmupVerdicts.filter((v) => v.startsWith('warm-up-'));
    expect(new Set(allowed).size).toBe(100); // every warm-up user verified (and then served from the cache)
    expect(allowed.length).toBe(300);
    expect(warmupVerdicts.filter((v) => v === 'token_invalid').length).toBeGreaterThanOrEqual(75); // the forgeries
    expect(sc.runtime.deps.services.jwtVerifier!.cacheSize).toBe(0);
    expect(issuer.jwksFetches).toBeLessThanOrEqual(1);
    // The real limiter never saw the warm-up's 3 requests per user: a real user of that name has all 3 points.
    const token = issuer.sign({ aud: 'jira-sidecar', preferred_username: 'warm-up-0', groups: [] });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${token}`]] })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    await until(async () => (await sc.runtime.stores.audit.count({})) === 4, 'the four requests are audited');
  });

  it('a token the warm-up signed, replayed after it (with or without a marker header), is refused and never reaches Jira', async () => {
    await until(async () => (await fetch(`${sc.adminUrl}/readyz`)).status === 200, 'ready after the warm-up');
    expect(warmupTokens.length).toBeGreaterThan(0); // valid signatures of the throw-away key, captured as the warm-up sent them
    const before = upstream.seen.length;
    const rows = await sc.runtime.stores.audit.count({});
    for (const extra of [[], [['X-Sidecar-Warmup', 'a'.repeat(32)]]] as Array<Array<[string, string]>>) {
      const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${warmupTokens[0]}`], ...extra] });
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body.toString()).error).toBe('token_invalid');
    }
    expect(upstream.seen.length).toBe(before);
    await until(async () => (await sc.runtime.stores.audit.count({ decision: 'deny' })) >= 2 && (await sc.runtime.stores.audit.count({})) === rows + 2, 'both refusals are audited');
  });

  it('afterwards the marker header means nothing: the request is judged, forwarded and audited as any other', async () => {
    const before = upstream.seen.length;
    const rows = await sc.runtime.stores.audit.count({});
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['X-Sidecar-Warmup', 'a'.repeat(32)]] });
    expect(r.status).not.toBe(204);
    expect(upstream.seen.length).toBe(before + 1);
    await until(async () => (await sc.runtime.stores.audit.count({})) === rows + 1, 'the request is audited');
  });
});

describe('start-up warm-up with introspection on', () => {
  it('asks its own stand-in about its opaque tokens, never the IdP, and forgets the answers: the first real token is asked about at the IdP', async () => {
    const idp = await startTestIssuer();
    idp.clients.set('sidecar', { secret: 'introspection-secret' });
    /** The warm-up's own opaque tokens and what introspection answered them. */
    const warm: Array<{ token: string; answer: string }> = [];
    const verify = IntrospectionVerifier.prototype.verify;
    const spy = vi.spyOn(IntrospectionVerifier.prototype, 'verify').mockImplementation(async function (this: IntrospectionVerifier, c: Credential, st: RequestState) {
      const done = (answer: string) => void (st.warmup && warm.push({ token: c.secret ?? '', answer }));
      try {
        const id = await verify.call(this, c, st);
        done(id.username);
        return id;
      } catch (e) {
        done(e instanceof SidecarError ? e.code : 'other');
        throw e;
      }
    });
    const s = await startTestSidecar(upstream.url, {
      server: { warmupRequests: 200 },
      introspection: { enabled: true, endpoint: idp.introspectionUrl, clientId: 'sidecar', clientSecret: 'introspection-secret' },
    });
    try {
      await until(async () => (await fetch(`${s.adminUrl}/readyz`)).status === 200, 'ready after the warm-up');
      // The introspection path ran (one request in three without JWT issuers, 20 tokens) and was answered by the stand-in as its user.
      expect(warm.length).toBeGreaterThan(20);
      expect(new Set(warm.map((w) => w.answer))).toEqual(new Set(['warm-up']));
      expect(idp.introspections).toHaveLength(0);
      const metrics = await (await fetch(`${s.adminUrl}/metrics`)).text();
      expect(metrics).not.toMatch(/^sidecar_idp_request_duration_seconds_count\{[^}]*kind="introspection"[^}]*\} [1-9]/m);

      const call = (token: string) => rawRequest(s.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });
      const real = await call(idp.issueOpaque({ username: 'alice' }));
      expect(real.status).toBe(200);
      expect(idp.introspections).toHaveLength(1);
      // A warm-up token after it: not answered from what the stand-in said, but asked about at the IdP (which never issued it).
      const before = upstream.seen.length;
      const replay = await call(warm[0]!.token);
      expect(replay.status).toBe(401);
      expect(JSON.parse(replay.body.toString()).error).toBe('token_inactive');
      expect(idp.introspections).toHaveLength(2);
      expect(upstream.seen.length).toBe(before);
    } finally {
      spy.mockRestore();
      await s.close();
      await idp.close();
    }
  });
});
