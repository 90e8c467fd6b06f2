// introspection.cacheHandover end to end: a real introspection endpoint (RFC 7662, client_secret_basic),
// the Jira-like upstream, a sidecar stopped gracefully and started again on the same SQLite file. The
// proof that an answer was handed over: the endpoint counts the calls it gets, and after the restart
// the token the stopped process had asked about is served without one.
// The attacks: a refusal is never handed over, nor an answer past its cacheSec, one of other
// settings, or one after a reload (each of those is asked about again); and no secret reaches the
// store. JWT verdicts, stored beside them, are left alone by everything the introspection handover does.
import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { tokenHash } from '../../src/pipeline/verify/token-cache.js';
import { restarts, tempDir, type TestSidecar } from '../helpers/sidecar.js';
import { json, rawRequest, until } from '../helpers/http.js';
import { nowSec, startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

const SECRET = 'handover-client-secret-9f3a';
let upstream: JiraUpstream;
const running: Array<TestSidecar | TokenIssuer> = [];
const dirs: string[] = [];

beforeAll(async () => {
  upstream = await startJiraUpstream();
});
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
afterAll(async () => {
  await upstream.close();
});

type Over = { cacheHandover?: boolean; clientId?: string; clientSecret?: string; usernameField?: string; jwt?: boolean };
const config = (idp: TokenIssuer, over: Over = {}) => ({
  introspection: {
    enabled: true,
    endpoint: idp.introspectionUrl,
    clientId: over.clientId ?? 'sidecar',
    clientSecret: over.clientSecret ?? SECRET,
    clientAuth: 'client_secret_basic',
    timeoutMs: 500,
    cacheSec: 120,
    ...(over.usernameField && { usernameField: over.usernameField }),
    ...(over.cacheHandover !== undefined && { cacheHandover: over.cacheHandover }),
  },
  ...(over.jwt && {
    jwt: { issuers: [{ name: 'test-idp', issuer: idp.url, audiences: ['api://jira'], keys: { jwksUri: idp.jwksUrl }, keyCache: { cooldownSec: 0, timeoutMs: 500 }, usernameClaim: 'preferred_username' }] },
  }),
});

async function setup() {
  const idp = await startTestIssuer();
  running.push(idp);
  for (const id of ['sidecar', 'sidecar-2']) idp.clients.set(id, { secret: SECRET });
  const dataDir = tempDir('sidecar-introspection-handover-');
  dirs.push(dataDir);
  const opaque = (user: string) => idp.issueOpaque({ username: user, groups: ['jira-users'], client_id: 'cli', exp: nowSec() + 3600 });
  return { idp, dataDir, opaque };
}

const { start, stop } = restarts(() => upstream.url, running);

const call = (s: TestSidecar, token: string) => rawRequest(s.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });
const seenUser = () => upstream.seen.at(-1)?.headers['x-forwarded-user'];

/** The handover table, read as someone with the database file would: every column. */
function rows(dataDir: string, kind = 'introspection'): Array<Record<string, unknown>> {
  const db = new Database(path.join(dataDir, 'sidecar.db'), { readonly: true });
  try {
    return db.prepare('SELECT * FROM handed_verdicts WHERE kind = ?').all(kind) as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

/** alice's opaque token asked about and served once, then the sidecar stopped gracefully. */
async function aliceServedThenStopped(over: Over = {}) {
  const { idp, dataDir, opaque } = await setup();
  const alice = opaque('alice');
  const a = await start(dataDir, config(idp, over));
  expect((await call(a, alice)).status).toBe(200);
  await stop(a);
  return { idp, dataDir, opaque, alice };
}

/** Counts the endpoint's calls from now on. */
function asked(idp: TokenIssuer): () => number {
  const before = idp.introspections.length;
  return () => idp.introspections.length - before;
}

describe('introspection answers handed over across a graceful restart (introspection.cacheHandover)', () => {
  it('a token asked about before the stop is served after the start without asking again; a token never seen is asked about', async () => {
    const { idp, dataDir, opaque, alice } = await aliceServedThenStopped();

    // What was written: the token's hash and the identity, never the token, the IdP's answer or the client secret.
    const stored = rows(dataDir);
    expect(stored.map((r) => r.hash)).toEqual([tokenHash(alice)]);
    expect(JSON.parse(stored[0]!.identity as string)).toMatchObject({ username: 'alice', source: 'introspection', groups: ['jira-users'], clientId: 'cli' });
    const text = JSON.stringify(stored);
    for (const secret of [alice, SECRET, 'claims', '"active"']) expect(text).not.toContain(secret);

    const calls = asked(idp);
    const b = await start(dataDir, config(idp));
    expect((await call(b, alice)).status).toBe(200);
    expect(seenUser()).toBe('alice');
    expect(calls()).toBe(0);
    expect((await call(b, opaque('bob'))).status).toBe(200);
    expect(calls()).toBe(1);
  });

  it('a refusal is never handed over: a revoked token is asked about again after the restart', async () => {
    const { idp, dataDir, opaque } = await setup();
    const mallory = opaque('mallory');
    idp.revoke(mallory);
    const a = await start(dataDir, config(idp));
    expect(json(await call(a, mallory)).error).toBe('token_inactive');
    await stop(a);
    expect(rows(dataDir)).toEqual([]);

    const calls = asked(idp);
    const b = await start(dataDir, config(idp));
    expect(json(await call(b, mallory)).error).toBe('token_inactive');
    expect(calls()).toBe(1);
  });

  it('an answer past introspection.cacheSec is not taken over: a token revoked meanwhile is refused as soon as without a restart', async () => {
    const { idp, dataDir, alice } = await aliceServedThenStopped();
    idp.revoke(alice);
    const calls = asked(idp);
    const b = await start(dataDir, config(idp), { now: () => Date.now() + 121_000 });
    expect(json(await call(b, alice)).error).toBe('token_inactive');
    expect(calls()).toBe(1);
  });

  it('other settings (another client, another username field): asked about again, and mapped as they say now', async () => {
    for (const [over, user] of [[{ clientId: 'sidecar-2' }, 'alice'], [{ usernameField: 'client_id' }, 'cli']] as const) {
      const { idp, dataDir, alice } = await aliceServedThenStopped();
      const calls = asked(idp);
      const b = await start(dataDir, config(idp, over));
      expect((await call(b, alice)).status, JSON.stringify(over)).toBe(200);
      expect(seenUser()).toBe(user);
      expect(calls()).toBe(1);
    }
  });

  it('another client secret alone keeps them: the secret only proves the client to the IdP, and is in no fingerprint', async () => {
    const { idp, dataDir, alice } = await aliceServedThenStopped();
    const calls = asked(idp);
    const b = await start(dataDir, config(idp, { clientSecret: 'a-rotated-secret' }));
    expect((await call(b, alice)).status).toBe(200);
    expect(calls()).toBe(0);
  });

  it('off: nothing is written and a stop removes what an earlier one left; the JWT verdicts beside them stay', async () => {
    const { idp, dataDir, opaque } = await setup();
    const alice = opaque('alice');
    const jwt = idp.sign({ iss: idp.url, aud: 'api://jira', sub: 'carol', preferred_username: 'carol', exp: nowSec() + 3600 });
    const a = await start(dataDir, config(idp, { jwt: true }));
    expect((await call(a, alice)).status).toBe(200);
    expect((await call(a, jwt)).status).toBe(200);
    await stop(a);
    expect(rows(dataDir)).toHaveLength(1);
    expect(rows(dataDir, 'jwt')).toHaveLength(1);

    const calls = asked(idp);
    const b = await start(dataDir, config(idp, { jwt: true, cacheHandover: false }));
    expect((await call(b, alice)).status).toBe(200);
    expect(calls()).toBe(1); // not read back
    await stop(b);
    expect(rows(dataDir)).toEqual([]);
    expect(rows(dataDir, 'jwt')).toHaveLength(1);
  });

  it('a reload (what an admin does to drop cached answers) drops the stored ones too', async () => {
    const { idp, dataDir, alice } = await aliceServedThenStopped();
    const b = await start(dataDir, config(idp));
    b.runtime.applyConfig(b.runtime.deps.getPolicy().config);
    await until(() => rows(dataDir).length === 0, 'the stored answers removed after the reload');
    await stop(b);
    expect(rows(dataDir)).toEqual([]);
    const calls = asked(idp);
    const c = await start(dataDir, config(idp));
    expect((await call(c, alice)).status).toBe(200);
    expect(calls()).toBe(1);
  });
});
