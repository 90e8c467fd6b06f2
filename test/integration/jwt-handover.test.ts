// jwt.cacheHandover end to end: a real issuer (JWKS over HTTP), the Jira-like upstream, a sidecar
// stopped gracefully and started again on the same SQLite file. The proof that a verdict was handed
// over: after the restart the issuer is down, so a token the new process verifies itself fails
// (503 auth_unavailable: no key), while the token the stopped process had verified is served.
// The attacks: changed settings, an expired entry, the setting off, and a row written into the
// store by hand are never taken for a verdict.
import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { tokenHash } from '../../src/pipeline/verify/token-cache.js';
import { JWT_HANDOVER } from '../../src/pipeline/verify/handover.js';
import { validate } from '../../src/config/validate.js';
import { restarts, tempDir, type TestSidecar } from '../helpers/sidecar.js';
import { json, rawRequest, until } from '../helpers/http.js';
import { nowSec, startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { freshDatabase } from '../helpers/postgres.js';

const AUD = 'api://jira-sidecar';
let upstream: JiraUpstream;
const running: Array<TestSidecar | TokenIssuer | { close(): Promise<void> }> = [];
const dirs: string[] = [];

beforeAll(async () => {
  upstream = await startJiraUpstream();
});
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close().catch(() => undefined); // the last started first (a database after its sidecars)
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
afterAll(async () => {
  await upstream.close();
});

const config = (idp: TokenIssuer, over: { audiences?: string[]; cacheHandover?: boolean } = {}) => ({
  jwt: {
    issuers: [
      {
        name: 'test-idp',
        issuer: idp.url,
        audiences: over.audiences ?? [AUD],
        keys: { jwksUri: idp.jwksUrl },
        keyCache: { maxAgeSec: 600, cooldownSec: 0, timeoutMs: 500 },
        usernameClaim: 'preferred_username',
        usernameRegex: '^([^@]+)@',
      },
    ],
    ...(over.cacheHandover !== undefined && { cacheHandover: over.cacheHandover }),
  },
});

async function setup() {
  const idp = await startTestIssuer();
  running.push(idp);
  const dataDir = tempDir('sidecar-handover-');
  dirs.push(dataDir);
  const token = (user: string) => idp.sign({ iss: idp.url, aud: AUD, sub: user, preferred_username: `${user}@example.com`, exp: nowSec() + 3600, iat: nowSec() });
  return { idp, dataDir, token };
}

const { start, stop } = restarts(() => upstream.url, running);

/** A sidecar that serves alice's token once and is stopped gracefully (what hands its verdicts over). */
async function aliceServedThenStopped() {
  const { idp, dataDir, token } = await setup();
  const alice = token('alice');
  const a = await start(dataDir, config(idp));
  expect((await call(a, alice)).status).toBe(200);
  await stop(a);
  return { idp, dataDir, token, alice };
}

const call = (s: TestSidecar, token: string) => rawRequest(s.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });
const seenUser = () => upstream.seen.at(-1)?.headers['x-forwarded-user'];

/** The handover table, read as someone with the database file would. */
function rows(dataDir: string): Array<{ hash: string; fingerprint: string; identity: string; until_ms: number }> {
  const db = new Database(path.join(dataDir, 'sidecar.db'), { readonly: true });
  try {
    return db.prepare('SELECT hash, fingerprint, identity, until_ms FROM handed_verdicts WHERE kind = \'jwt\'').all() as Array<{ hash: string; fingerprint: string; identity: string; until_ms: number }>;
  } finally {
    db.close();
  }
}

describe('JWT verdicts handed over across a graceful restart (jwt.cacheHandover)', () => {
  it('a token verified before the stop is served after the start with the issuer down; a token never seen is refused 503', async () => {
    const { idp, dataDir, token, alice } = await aliceServedThenStopped();

    // What was written: the token's hash, the identity without raw claims, never the token.
    const stored = rows(dataDir);
    expect(stored.map((r) => r.hash)).toEqual([tokenHash(alice)]);
    expect(JSON.parse(stored[0]!.identity)).toMatchObject({ username: 'alice', source: 'jwt', issuer: 'test-idp' });
    expect(stored[0]!.identity).not.toContain('claims');
    expect(stored[0]!.identity).not.toContain(alice.split('.')[1]!);
    expect(JSON.stringify(stored)).not.toContain(alice);

    await idp.close();
    const b = await start(dataDir, config(idp));
    // What the Status page says this start took over.
    expect(b.runtime.deps.services.verdictHandovers!.map((h) => h.status())).toEqual([
      { kind: 'jwt', setting: 'jwt.cacheHandover', on: true, loaded: 1, skipped: 0, at: expect.any(Number) },
      { kind: 'introspection', setting: 'introspection.cacheHandover', on: false, loaded: null, skipped: null, at: null },
    ]);
    const served = await call(b, alice);
    expect(served.status).toBe(200);
    expect(seenUser()).toBe('alice');
    const bob = await call(b, token('bob'));
    expect(bob.status).toBe(503);
    expect(json(bob).error).toBe('auth_unavailable');
  });

  it('changed jwt settings: the verdicts of the old ones are never read back (the token is judged again, and refused)', async () => {
    const { idp, dataDir, alice } = await aliceServedThenStopped();
    expect(rows(dataDir)).toHaveLength(1);

    // The audience the token carries is no longer accepted: a handed-over verdict would let it in.
    const b = await start(dataDir, config(idp, { audiences: ['api://another-app'] }));
    const r = await call(b, alice);
    expect(r.status).toBe(401);
    expect(json(r).error).toBe('token_invalid');
  });

  it('a reload (what an admin does to drop cached verdicts) drops the stored ones too: the next start cannot bring them back', async () => {
    const { idp, dataDir, alice } = await aliceServedThenStopped();
    const b = await start(dataDir, config(idp));
    expect(rows(dataDir)).toHaveLength(1);
    b.runtime.applyConfig(b.runtime.deps.getPolicy().config);
    await until(() => rows(dataDir).length === 0, 'the stored verdicts removed after the reload');
    await stop(b);
    expect(rows(dataDir)).toEqual([]);
    await idp.close();
    const c = await start(dataDir, config(idp));
    expect((await call(c, alice)).status).toBe(503);
  });

  it('a verdict past its own bound (verified + keyCache.maxAgeSec) is not taken over', async () => {
    const { idp, dataDir, alice } = await aliceServedThenStopped();
    await idp.close();
    // The next start's clock 11 minutes on: past the entry's min(exp, verified + 600 s), not past exp.
    const b = await start(dataDir, config(idp), { now: () => Date.now() + 11 * 60_000 });
    const r = await call(b, alice);
    expect(r.status).toBe(503);
    expect(json(r).error).toBe('auth_unavailable');
  });

  it('off: nothing is written, and a stop removes what an earlier one left; nothing is read back', async () => {
    const { idp, dataDir, alice } = await aliceServedThenStopped();
    expect(rows(dataDir)).toHaveLength(1);

    await idp.close();
    const b = await start(dataDir, config(idp, { cacheHandover: false }));
    // b did not take alice's verdict over: with the issuer down it cannot verify her token.
    expect((await call(b, alice)).status).toBe(503);
    await stop(b);
    expect(rows(dataDir)).toEqual([]);

    // Off, a token verified and cached is not written at the stop either.
    const other = await setup();
    const c = await start(dataDir, config(other.idp, { cacheHandover: false }));
    expect((await call(c, other.token('bob'))).status).toBe(200);
    await stop(c);
    expect(rows(dataDir)).toEqual([]);
  });

  it('a row written into the store by hand is not a verdict unless it is a JWT identity of the current settings', async () => {
    const { idp, dataDir } = await setup();
    const a = await start(dataDir, config(idp));
    await stop(a);
    const v = validate({ server: { dataDir }, upstream: { url: upstream.url }, ...config(idp) });
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    const fp = JWT_HANDOVER.fingerprint(v.config);
    // JWTs of the issuer's name signed with a key it never published: each one the attacker's, and
    // each with a row claiming it verified as someone else.
    const rogue = idp.newKey('rogue');
    const forged = ['api-token', 'bad-json', 'wrong-fingerprint', 'no-username'].map((sub) =>
      idp.sign({ iss: idp.url, aud: AUD, sub, preferred_username: `${sub}@example.com`, exp: nowSec() + 3600 }, { key: rogue }),
    );
    const jwtIdentity = JSON.stringify({ username: 'admin', source: 'jwt', groups: [], roles: [], issuer: 'test-idp', isServicePrincipal: false });
    const db = new Database(path.join(dataDir, 'sidecar.db'));
    const put = db.prepare("INSERT INTO handed_verdicts (kind, hash, fingerprint, identity, until_ms, saved_at, position) VALUES ('jwt', ?, ?, ?, ?, ?, 0)");
    const far = Date.now() + 3_600_000;
    put.run(tokenHash(forged[0]!), fp, JSON.stringify({ username: 'admin', source: 'api-token', groups: [], roles: [], isServicePrincipal: false, tokenId: 't', scope: { access: 'write', paths: [] } }), far, Date.now());
    put.run(tokenHash(forged[1]!), fp, '{"username": "admin", ', far, Date.now());
    put.run(tokenHash(forged[2]!), 'another-fingerprint', jwtIdentity, far, Date.now());
    put.run(tokenHash(forged[3]!), fp, JSON.stringify({ source: 'jwt', groups: [], roles: [], issuer: 'test-idp', isServicePrincipal: false }), far, Date.now());
    db.close();

    const b = await start(dataDir, config(idp));
    const before = upstream.seen.length;
    for (const t of forged) {
      // None is taken for a verdict: each token is verified, and its key is not the issuer's.
      const r = await call(b, t);
      expect(r.status).toBe(401);
      expect(json(r).error).toBe('token_invalid');
    }
    expect(upstream.seen.length).toBe(before);

    // The same row under the right fingerprint is taken (the store is trusted as far as API tokens
    // already trust it): what the cases above differ in is exactly what they were refused for.
    await stop(b);
    const db2 = new Database(path.join(dataDir, 'sidecar.db'));
    // (b's stop dropped the row of another fingerprint, as every save does.)
    expect(db2.prepare('SELECT count(*) AS n FROM handed_verdicts WHERE hash = ?').get(tokenHash(forged[2]!))).toEqual({ n: 0 });
    db2.prepare("INSERT INTO handed_verdicts (kind, hash, fingerprint, identity, until_ms, saved_at, position) VALUES ('jwt', ?, ?, ?, ?, ?, 0)").run(tokenHash(forged[2]!), fp, jwtIdentity, far, Date.now());
    db2.close();
    const c = await start(dataDir, config(idp));
    expect((await call(c, forged[2]!)).status).toBe(200);
    expect(seenUser()).toBe('admin');
  });
  it('PostgreSQL, two replicas: both stop and hand their verdicts over; a replica started after takes over both', async () => {
    const { idp, token } = await setup();
    const db = await freshDatabase('handover');
    running.push({ close: db.drop });
    const replica = (name: string) => ({ ...config(idp), server: { replicaName: name }, store: { kind: 'postgres', url: db.url, poolSize: 2 } });
    const dir = () => {
      const d = tempDir('sidecar-handover-pg-');
      dirs.push(d);
      return d;
    };
    const [alice, bob] = [token('alice'), token('bob')];
    const a = await start(dir(), replica('replica-a'));
    const b = await start(dir(), replica('replica-b'));
    expect((await call(a, alice)).status).toBe(200);
    expect((await call(b, bob)).status).toBe(200);
    await Promise.all([stop(a), stop(b)]);

    await idp.close();
    const c = await start(dir(), replica('replica-c'));
    expect((await call(c, alice)).status).toBe(200);
    expect(seenUser()).toBe('alice');
    expect((await call(c, bob)).status).toBe(200);
    expect(seenUser()).toBe('bob');
    expect((await call(c, token('carol'))).status).toBe(503);
  });
});
