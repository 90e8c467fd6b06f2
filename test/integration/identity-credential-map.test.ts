// credential-map: service principals and chosen users reach Jira with a stored Jira PAT. The PAT is
// encrypted at rest and never appears in logs, audit rows, the admin store API, error bodies or the
// database file in clear; key rotation keeps stored credentials usable.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOAuth1Jira, type OAuth1Jira } from '../helpers/oauth1-verifier.js';
import { startIdentitySidecar, testToken, type IdentitySidecar, type TestCaller } from '../helpers/identity.js';
import { json, rawRequest } from '../helpers/http.js';
import { tempDir } from '../helpers/sidecar.js';

const PAT = `NjQ0MDM1NzQ0NjA5${randomBytes(12).toString('hex')}`;
const REVOKED_PAT = `MzMzMzMzMzMzMzMz${randomBytes(12).toString('hex')}`;
const keyA = randomBytes(32).toString('base64');
const keyB = randomBytes(32).toString('base64');

// Service principals pass the client ACL of their issuer (the authorize stage); the JWT itself is
// accepted by the test verifier, so the issuer's key is never used.
const issuerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const config = {
  jwt: {
    issuers: [
      {
        name: 'entra',
        issuer: 'https://login.example.test/v2.0',
        audiences: ['api://jira-sidecar'],
        keys: { publicKeyPem: issuerKey },
        clients: { allow: ['app-svc', 'app-bob'], jiraAccounts: { 'app-svc': 'svc-integration', 'app-bob': 'bob' } },
      },
      // Named by the issuer override below (an override must name a configured issuer).
      { name: 'partners', issuer: 'https://partners.example.test/', audiences: ['api://jira-sidecar'], keys: { publicKeyPem: issuerKey } },
    ],
  },
  upstream: {
    identity: {
      mode: 'header',
      clients: { 'app-svc': 'credential-map', 'app-bob': 'credential-map' },
      issuers: { partners: 'credential-map' },
      credentialMap: { fallback: 'deny' },
    },
  },
};

const bearer = (c: TestCaller): [string, string] => ['Authorization', `Bearer ${testToken(c)}`];
const svc = bearer({ username: 'svc-integration', issuer: 'entra', clientId: 'app-svc', isServicePrincipal: true });

let jira: OAuth1Jira;
const envBefore = { ...process.env };
const dirs: string[] = [];

function useKeys(env: { key?: string; previous?: string }) {
  delete process.env.SIDECAR_SECRET_KEY;
  delete process.env.SIDECAR_SECRET_KEY_FILE;
  delete process.env.SIDECAR_SECRET_KEY_PREVIOUS;
  if (env.key) process.env.SIDECAR_SECRET_KEY = env.key;
  if (env.previous) process.env.SIDECAR_SECRET_KEY_PREVIOUS = env.previous;
}

async function start(dataDir: string, keys: { key?: string; previous?: string }, over: unknown = config): Promise<IdentitySidecar> {
  useKeys(keys);
  return startIdentitySidecar(jira.url, over, { dataDir });
}

/** Every byte of the SQLite database (main file and WAL), for "never stored in clear". */
function dbBytes(dataDir: string): Buffer {
  return Buffer.concat(readdirSync(dataDir).map((f) => readFileSync(path.join(dataDir, f))));
}

beforeAll(async () => {
  jira = await startOAuth1Jira({ consumerKey: 'unused', publicKeyPem: issuerKey, pats: { [PAT]: 'svc-integration' } });
});
afterAll(async () => {
  process.env = envBefore;
  await jira?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('credential-map', () => {
  let sc: IdentitySidecar;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = tempDir('sidecar-credmap-');
    dirs.push(dataDir);
    sc = await start(dataDir, { key: keyA });
    const store = sc.runtime.deps.services.credentialMap!;
    await store.set({ subjectType: 'client', subject: 'app-svc', secret: PAT, createdBy: 'test' });
    await store.set({ subjectType: 'client', subject: 'app-bob', secret: REVOKED_PAT, createdBy: 'test', note: 'revoked in Jira' });
  });

  it('forwards a service principal with its mapped PAT; the audit row keeps the real caller', async () => {
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [svc, ['Cookie', 'JSESSIONID=x']] });
    expect(r.status).toBe(200);
    expect(json(r).name).toBe('svc-integration');
    const seen = jira.seen[jira.seen.length - 1]!;
    expect(seen.headers.authorization).toBe(`Bearer ${PAT}`);
    expect(seen.outcome).toEqual({ user: 'svc-integration', via: 'pat' });
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-forwarded-user']).toBeUndefined();
  });

  it('a header-mode caller is unaffected (identity header, no PAT)', async () => {
    await rawRequest(sc.proxyUrl, { path: '/rest/test/echo', headers: [bearer({ username: 'alice', issuer: 'entra', clientId: 'portal' })] });
    const seen = jira.seen[jira.seen.length - 1]!;
    expect(seen.headers['x-forwarded-user']).toBe('alice');
    expect(seen.headers.authorization).toBeUndefined();
  });

  it('a caller without a mapping is refused with 403 credential_not_mapped and never reaches Jira', async () => {
    const before = jira.seen.length;
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [bearer({ username: 'carol', issuer: 'partners' })] });
    expect(r.status).toBe(403);
    expect(json(r).error).toBe('credential_not_mapped');
    expect(jira.seen.length).toBe(before);
  });

  it('a mapped PAT that Jira refuses is a 502 upstream_rejected_identity whose body does not carry it', async () => {
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [bearer({ username: 'bob', issuer: 'entra', clientId: 'app-bob', isServicePrincipal: true })] });
    expect(r.status).toBe(502);
    expect(json(r).error).toBe('upstream_rejected_identity');
    expect(r.body.toString()).not.toContain(REVOKED_PAT);
    expect(sc.logs.some((l) => l.includes('upstream_rejected_identity') && l.includes('client:app-bob'))).toBe(true);
  });

  it('the admin store API lists subjects and never any part of the secret', async () => {
    const store = sc.runtime.deps.services.credentialMap!;
    const listed = JSON.stringify([await store.list(), await store.get('client', 'app-svc'), await store.status()]);
    expect(listed).toContain('app-svc');
    for (const secret of [PAT, REVOKED_PAT]) {
      expect(listed).not.toContain(secret);
      expect(listed).not.toContain(secret.slice(-4));
    }
    expect('reveal' in store).toBe(false); // the plaintext accessor is not reachable through services
  });

  it('the PAT is in no log line, no audit row and nowhere in the database file in clear', async () => {
    await sc.close();
    const logs = sc.logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [PAT, REVOKED_PAT]) {
      expect(logs).not.toContain(secret);
      expect(dbBytes(dataDir).includes(Buffer.from(secret))).toBe(false);
    }
    const db = new Database(path.join(dataDir, 'sidecar.db'), { readonly: true });
    try {
      const rows = db.prepare("SELECT * FROM audit_log WHERE client_id IN ('app-svc', 'app-bob')").all() as Array<Record<string, unknown>>;
      expect(rows.length).toBeGreaterThanOrEqual(2);
      const svcRow = rows.find((r) => r.client_id === 'app-svc')!;
      expect(svcRow).toMatchObject({ user: 'svc-integration', credential_kind: 'jwt', status: 200 });
      expect(rows.find((r) => r.client_id === 'app-bob')).toMatchObject({ user: 'bob', reason: 'upstream_rejected_identity', status: 502 });
      expect(db.prepare("SELECT decision, reason, stage, rule, status FROM audit_log WHERE user = 'carol'").get()).toEqual({
        decision: 'deny',
        reason: 'credential_not_mapped',
        stage: 'forward',
        rule: 'credential-map:user',
        status: 403,
      });
      expect(JSON.stringify(db.prepare('SELECT * FROM audit_log').all())).not.toContain(PAT);
    } finally {
      db.close();
    }
  });
});

describe('encryption key rotation', () => {
  it('keeps stored credentials usable through a new primary key, rotate, and dropping the old key', async () => {
    const dataDir = tempDir('sidecar-rotate-');
    dirs.push(dataDir);
    const call = async (s: IdentitySidecar) => rawRequest(s.proxyUrl, { path: '/rest/api/2/myself', headers: [svc] });

    // 1. stored under key A
    let s = await start(dataDir, { key: keyA });
    await s.runtime.deps.services.credentialMap!.set({ subjectType: 'client', subject: 'app-svc', secret: PAT, createdBy: 'test' });
    const idA = (await s.runtime.deps.services.credentialMap!.status()).primaryKeyId!;
    expect((await call(s)).status).toBe(200);
    await s.close();

    // 2. B becomes primary, A stays as previous: still decrypts; rotate re-seals under B
    s = await start(dataDir, { key: keyB, previous: keyA });
    expect((await call(s)).status).toBe(200);
    const store = s.runtime.deps.services.credentialMap!;
    expect(await store.status()).toMatchObject({ count: 1, notOnPrimary: 1 });
    expect(s.logs.some((l) => l.includes('credentials rotate'))).toBe(true);
    expect(await store.rotate()).toEqual({ reencrypted: 1, alreadyCurrent: 0, failed: [] });
    expect((await store.get('client', 'app-svc'))!.keyId).not.toBe(idA);
    expect(await store.rotate()).toEqual({ reencrypted: 0, alreadyCurrent: 1, failed: [] });
    await s.close();

    // 3. A dropped: B alone decrypts
    s = await start(dataDir, { key: keyB });
    const ok = await call(s);
    expect(ok.status).toBe(200);
    expect(jira.seen[jira.seen.length - 1]!.headers.authorization).toBe(`Bearer ${PAT}`);
    await s.close();

    // 4. only the old key: the row cannot be read -> 503, and nothing is sent to Jira another way
    s = await start(dataDir, { key: keyA });
    const before = jira.seen.length;
    const r = await call(s);
    expect(r.status).toBe(503);
    expect(json(r).error).toBe('auth_unavailable');
    expect(jira.seen.length).toBe(before);
    await s.close();

    // 5. no key at all: not ready, and refused the same way
    s = await start(dataDir, {});
    const ready = await fetch(`${s.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('identity-credentials');
    expect((await call(s)).status).toBe(503);
    await s.close();
  });
});
