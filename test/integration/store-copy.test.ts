// `jira-auth-sidecar store copy` through the real entry point (dist/main.js): an install with data of
// every concern moves from SQLite to a fresh PostgreSQL database and back, and on each side the same
// tokens, admin login, saved configuration, credentials and audit heads hold. A non-empty target is
// refused with nothing changed, and no output ever shows the database password.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { ApiTokens, hashToken, type CreatedToken } from '../../src/api-tokens/api-tokens.js';
import { AdminAccounts, sha256hex } from '../../src/admin/accounts.js';
import { verifyPassword } from '../../src/admin/password.js';
import { CredentialMap } from '../../src/credential-map/credentials.js';
import { KeyRing, parseKey } from '../../src/credential-map/secret-keys.js';
import { encodeRow } from '../../src/audit/encode.js';
import { recordAdminAction } from '../../src/audit/record-admin.js';
import { verifyAll } from '../../src/audit/verify.js';
import { openDb } from '../../src/store/sqlite/db.js';
import { sqliteStores } from '../../src/store/sqlite/stores.js';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import type { Stores } from '../../src/store/stores.js';
import type { ApiTokenDump } from '../../src/store/token-store.js';
import { freshDatabase } from '../helpers/postgres.js';
import { ROOT, tempDir } from '../helpers/sidecar.js';

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const REPLICA = 'replica-one';
const ADMIN_PASSWORD = 'correct horse battery staple';
const PAT = 'NjQ0MDM1NzQ0NjA5OqkqH2v4yBv0sI9hLqvJ8Fd0hHc1';
const keys = new KeyRing(parseKey(randomBytes(32).toString('base64'), 'test'));

const dir = tempDir('store-copy-');
const source = path.join(dir, 'source');
const back = path.join(dir, 'back');
const configFile = path.join(dir, 'sidecar.yaml');
let pg: { url: string; drop(): Promise<void> };
let pgPassword: string;
/** Everything any run printed: the database password must be in none of it. */
const printed: string[] = [];

/** Runs the CLI with a clean SIDECAR_* environment; the source's replica name comes from the config file. */
function cli(args: string[]) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIDECAR_') && v !== undefined) clean[k] = v;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'store', 'copy', ...args], {
    env: { ...clean, SIDECAR_CONFIG: configFile },
    encoding: 'utf8',
  });
  printed.push(r.stdout, r.stderr);
  return r;
}

interface Seeded {
  readToken: CreatedToken;
  writeToken: CreatedToken;
  sessionId: string;
  adminKey: string;
}
let seeded: Seeded;

const request = (i: number, time: number) =>
  encodeRow({
    time, requestId: `req-${i}`, decision: i % 5 ? 'allow' : 'deny', reason: i % 5 ? 'allowed' : 'token_revoked', status: i % 5 ? 200 : 401,
    method: 'GET', path: `/rest/api/2/issue/A-${i % 7}`, clientIp: `10.0.0.${i % 3}`, user: i % 4 ? `user${i % 4}` : null, credentialKind: 'jwt',
    tokenId: i % 6 ? null : 'tok_x', clientId: 'app-1', issuer: 'https://login.example/v2.0', latencyMs: i % 50, upstreamStatus: i % 5 ? 200 : null,
    route: 'guarded', stage: i % 5 ? null : 'verify', rule: null,
    wouldDeny: i % 10 === 1 ? 'read_only' : null, userAgent: i % 2 ? 'curl/8.5' : null, facts: i % 3 ? null : '{"v":1,"g":["jira-users"]}',
  });

/** A SQLite install with rows of every concern, the audit log pruned once so both chains have an anchor. */
async function seed(): Promise<Seeded> {
  const clock = fixedClock(T0 - 40 * DAY);
  const stores = sqliteStores(openDb(source).db, { ownsDb: true, replica: REPLICA });
  try {
    const tokens = new ApiTokens(stores.tokens, { clock });
    const settings = { prefix: 'jas_', maxLifetimeDays: 365 };
    const writeToken = await tokens.create({ owner: 'alice', name: 'ci', createdBy: 'cli', paths: ['/rest/api/2/*'], ipAllowlist: ['10.0.0.0/8'], rateLimit: { points: 10, durationSec: 60 } }, settings);
    const readToken = await tokens.create({ owner: 'bob', name: 'report', createdBy: 'admin:admin', access: 'read', groups: ['jira-users'] }, settings);
    const revoked = await tokens.create({ owner: 'bob', name: 'old', createdBy: 'self-service:bob' }, settings);
    tokens.touch(writeToken.id, '10.0.0.7', T0 - 39 * DAY);
    await tokens.revoke(revoked.id);
    await tokens.close();

    const accounts = new AdminAccounts(stores.admin, () => clock.now());
    await accounts.setPassword('admin', ADMIN_PASSWORD);
    await accounts.setPassword('auditor', 'another long password');
    const { sessionId } = await accounts.createSession((await accounts.findUser('admin'))!.id, 90 * 86_400, '10.0.0.2');
    const { key: adminKey } = await accounts.createApiKey('ci', 'admin', null);
    const { apiKey: gone } = await accounts.createApiKey('old', 'admin', T0);
    await accounts.revokeApiKey(gone.id);
    await accounts.recordFailure(['user:mallory', 'ip:10.9.9.9']);

    await stores.config.save({ changes: [{ path: ['access', 'readOnlyGroups'], after: ['auditors'] }], savedAt: T0 - 39 * DAY, savedBy: 'admin' });
    await stores.config.save({ changes: [{ path: ['access', 'readOnlyGroups'], after: ['auditors', 'guests'] }, { path: ['bypass', 0] }], savedAt: T0 - 38 * DAY, savedBy: 'admin' });

    const credentials = new CredentialMap(stores.credentials, keys, clock);
    await credentials.set({ subjectType: 'client', subject: 'svc-app', secret: PAT, createdBy: 'cli', note: 'integration' });
    await credentials.set({ subjectType: 'user', subject: 'carol', secret: `${PAT}-carol`, createdBy: 'admin:admin' });

    const w = stores.audit.requestWriter('inline');
    expect(await w.write(Array.from({ length: 40 }, (_, i) => request(i, T0 - 40 * DAY + i)), 1000)).toBeUndefined();
    expect(await w.write(Array.from({ length: 160 }, (_, i) => request(40 + i, T0 - DAY + i * 1000)), 1000)).toBeUndefined();
    await w.close();
    await recordAdminAction(stores.audit, clock, { actor: 'admin', action: 'token.revoke', target: revoked.id, before: { revokedAt: null }, after: { revokedAt: clock.now() } });
    clock.set(T0 - DAY);
    await recordAdminAction(stores.audit, clock, { actor: 'admin', action: 'config.update', target: 'access', after: { secret: 'masked', readOnlyGroups: ['auditors'] } });
    expect(await stores.audit.prune({ retentionDays: 30, maxEntries: 1_000_000, now: T0 })).toEqual({ deletedByAge: 41, deletedByCount: 0 });
    return { readToken, writeToken, sessionId, adminKey };
  } finally {
    await stores.close();
  }
}

/** Everything a store holds, as its dump methods and verify see it. */
async function snapshot(stores: Stores) {
  const tokens: ApiTokenDump[] = [];
  for await (const batch of stores.tokens.dump()) tokens.push(...batch);
  return {
    tokens,
    admin: await stores.admin.dump(),
    config: await stores.config.dump(),
    credentials: await stores.credentials.list(),
    audit: await verifyAll(stores.audit),
    requestRows: await stores.audit.count({}),
    adminRows: await stores.audit.adminPage({ limit: 1000 }),
  };
}

async function withSqlite<T>(dataDir: string, fn: (s: Stores) => Promise<T>): Promise<T> {
  const stores = sqliteStores(openDb(dataDir).db, { ownsDb: true, replica: REPLICA });
  try {
    return await fn(stores);
  } finally {
    await stores.close();
  }
}

async function withPostgres<T>(fn: (s: Stores) => Promise<T>, replica = 'checker'): Promise<T> {
  const { stores } = await openPostgresStores({ url: pg.url, replica, migrate: false });
  try {
    return await fn(stores);
  } finally {
    await stores.close();
  }
}

/** What a sidecar on the copy would do with the same secrets: each works as it did on the source. */
async function expectSameBehaviour(stores: Stores): Promise<void> {
  const tokens = new ApiTokens(stores.tokens, { clock: fixedClock(T0) });
  const found = await stores.tokens.findByHash(hashToken(seeded.writeToken.token));
  expect(found?.record).toMatchObject({ id: seeded.writeToken.id, owner: 'alice', lastUsedAt: T0 - 39 * DAY, lastUsedIp: '10.0.0.7', rateLimit: { points: 10, durationSec: 60 } });
  expect((await tokens.findByToken(seeded.readToken.token))?.id).toBe(seeded.readToken.id);
  expect((await tokens.list()).filter((t) => t.revokedAt !== undefined).map((t) => t.name)).toEqual(['old']);

  const accounts = new AdminAccounts(stores.admin, () => T0);
  const admin = (await accounts.findUser('admin'))!;
  expect(await verifyPassword(ADMIN_PASSWORD, admin.passwordHash)).toBe(true);
  expect(await verifyPassword('not the password', admin.passwordHash)).toBe(false);
  expect(await accounts.findSession(seeded.sessionId)).toMatchObject({ username: 'admin', userId: admin.id });
  expect(await stores.admin.findApiKeyByHash(sha256hex(seeded.adminKey))).toMatchObject({ name: 'ci', createdBy: 'admin' });
  expect(await accounts.lockedForMs(['user:mallory'])).toBe(0);
  expect(await stores.admin.getFailures(['user:mallory'])).toMatchObject([{ failures: 1 }]);

  expect(await stores.config.load()).toEqual({
    changes: [{ path: ['access', 'readOnlyGroups'], after: ['auditors', 'guests'] }, { path: ['bypass', 0] }],
    savedAt: T0 - 38 * DAY,
    savedBy: 'admin',
    version: 2,
  });

  const credentials = new CredentialMap(stores.credentials, keys, fixedClock(T0));
  expect((await credentials.reveal('client', 'svc-app'))?.secret).toBe(PAT);
  expect((await credentials.reveal('user', 'carol'))?.secret).toBe(`${PAT}-carol`);

  const reports = await verifyAll(stores.audit);
  expect(reports.map((r) => [r.chain, r.ok, r.anchorId])).toEqual([
    [{ kind: 'request', replica: REPLICA }, true, 40],
    [{ kind: 'admin', replica: REPLICA }, true, 1],
  ]);
  expect(reports[0]).toMatchObject({ count: 160, headId: 200, headHash: original.audit[0]!.headHash });
}

let original: Awaited<ReturnType<typeof snapshot>>;

beforeAll(async () => {
  writeFileSync(configFile, `server:\n  replicaName: ${REPLICA}\n`);
  seeded = await seed();
  original = await withSqlite(source, snapshot);
  pg = await freshDatabase('copy');
  pgPassword = decodeURIComponent(new URL(pg.url).password);
});

afterAll(async () => {
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('store copy', () => {
  it('copies a SQLite install into an empty PostgreSQL database: every concern, the audit chains with their heads', async () => {
    const r = cli(['--from', `sqlite:${source}`, '--to', pg.url]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const head = original.audit.find((c) => c.chain.kind === 'request')!;
    expect(r.stdout).toContain(`copied sqlite:${source} (audit rows of replica "${REPLICA}") to postgres://postgres:***@`);
    expect(r.stdout).toContain('API tokens: 3\n');
    expect(r.stdout).toContain('admin users: 2, sessions: 1, API keys: 2, failed-login rows: 2\n');
    expect(r.stdout).toContain('saved configuration: version 2, 2 change(s)\n');
    expect(r.stdout).toContain('stored credentials: 2\n');
    expect(r.stdout).toContain(`audit [${REPLICA}] request log: 160 row(s) after retention anchor at row 40\n`);
    expect(r.stdout).toContain(`[${REPLICA}] request log: OK, 160 row(s) verified (after retention anchor at row 40); head row 200 hash ${head.headHash}\n`);
    expect(r.stdout).toContain("done: every audit chain verifies on the target and ends on the source's head\n");

    await withPostgres(async (stores) => {
      expect(await snapshot(stores)).toEqual(original);
      await expectSameBehaviour(stores);
      // A replica of that name goes on writing the copied chains where the source left off.
      await withPostgres(async (replica) => {
        await replica.audit.appendAdmin({ time: T0, actor: 'admin', action: 'admin.login', target: null, beforeJson: null, afterJson: null });
        expect(await replica.audit.verify({ kind: 'admin', replica: REPLICA })).toMatchObject({ ok: true, count: 2, headId: 3 });
        // The next admin user is numbered after the copied ones (PostgreSQL's identity sequence moved past them).
        expect(await replica.admin.setPasswordHash({ username: 'new', passwordHash: 'scrypt$x', at: T0 })).toMatchObject({ id: 3 });
      }, REPLICA);
    });
  });

  it('refuses a target that is not empty, exit 1 naming what it holds, and changes nothing', async () => {
    const before = await withPostgres(snapshot);
    const r = cli(['--from', `sqlite:${source}`, '--to', pg.url]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^the target is not empty: it holds a saved configuration \(version 2\), API tokens, 3 admin user\(s\), .*audit log chains \(\[replica-one\] request log, \[replica-one\] admin log\); copy into an empty store only \(nothing was written\)\n$/);
    expect(await withPostgres(snapshot)).toEqual(before);

    const intoSource = cli(['--from', pg.url, '--to', `sqlite:${source}`]);
    expect(intoSource.status).toBe(1);
    expect(intoSource.stderr).toContain('the target is not empty');
    expect(await withSqlite(source, snapshot)).toEqual(original);
  });

  it('copies PostgreSQL back into a new SQLite data dir: the same install again', async () => {
    const onPostgres = await withPostgres(snapshot);
    const r = cli(['--from', pg.url, '--to', `sqlite:${back}`, '--progress']);
    expect(r.status).toBe(0);
    // Not a terminal: the bar is drawn at its start and once a second, on stderr only.
    expect(r.stderr).toContain('copy saved configuration [');
    expect(r.stdout).not.toContain('[█');
    expect(r.stdout).toContain(`to sqlite:${back}:`);
    expect(r.stdout).toContain("done: every audit chain verifies on the target and ends on the source's head\n");
    await withSqlite(back, async (stores) => {
      expect(await snapshot(stores)).toEqual(onPostgres);
      await expectSameBehaviour(stores);
      expect((await stores.admin.dump()).users.map((u) => u.username)).toEqual(['admin', 'auditor', 'new']);
    });
    // And `audit verify` of the copy, as an operator would run it, prints the source's head hash.
    const head = original.audit.find((c) => c.chain.kind === 'request')!.headHash;
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIDECAR_') && v !== undefined) clean[k] = v;
    const verify = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'audit', 'verify'], {
      env: { ...clean, SIDECAR_CONFIG: configFile, SIDECAR_DATA_DIR: back },
      encoding: 'utf8',
    });
    expect(verify.status).toBe(0);
    expect(verify.stdout).toContain(`[${REPLICA}] request log: OK, 160 row(s) verified (after retention anchor at row 40); head row 200 hash ${head}`);
  });

  it('refuses to put the chains of several replicas into SQLite, before creating anything', async () => {
    await withPostgres((s) => s.audit.appendAdmin({ time: T0, actor: 'admin', action: 'admin.login', target: null, beforeJson: null, afterJson: null }), 'replica-two');
    const target = path.join(dir, 'never');
    const r = cli(['--from', pg.url, '--to', `sqlite:${target}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`a SQLite store holds one replica's audit chains; the source has chains of "replica-one", "replica-two" (nothing was written)\n`);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses what it cannot copy from or to, naming no password', () => {
    expect(cli(['--from', 'mysql://u:pw@h/db', '--to', pg.url])).toMatchObject({ status: 1, stderr: '--from must be sqlite:PATH (a data directory) or a postgres:// URL\n' });
    const missing = cli(['--from', `sqlite:${path.join(dir, 'nothing-here')}`, '--to', pg.url]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`no SQLite database at ${path.join(dir, 'nothing-here', 'sidecar.db')}`);
    expect(cli(['--from', pg.url, '--to', pg.url, '--replica', 'x']).status).toBe(1);
    const wrongPassword = new URL(pg.url);
    wrongPassword.password = 'a-wrong-secret';
    const refused = cli(['--from', wrongPassword.toString(), '--to', `sqlite:${path.join(dir, 'never2')}`]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^cannot open the source \(postgres:\/\/postgres:\*\*\*@[^)]+\): /);
    expect(refused.stderr).not.toContain('a-wrong-secret');
  });

  it('never prints the database password', () => {
    expect(printed.length).toBeGreaterThan(10);
    for (const text of printed) expect(text).not.toContain(pgPassword);
  });
});
