// Our API tokens end to end: minted by the real CLI (`node dist/main.js token ...`, built by
// pretest) on the sidecar's own data dir, used through the proxy in front of the Jira-like
// upstream, revoked from the CLI while the sidecar runs, and minted/managed by users themselves on
// /_sidecar/tokens with their JWT.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { fixedClock } from '../../src/clock.js';
import { ApiTokens } from '../../src/api-tokens/api-tokens.js';
import { MAX_ACTIVE_TOKENS_PER_OWNER } from '../../src/pipeline/verify/api-token/self-service.js';
import { baseConfig, merge, ROOT, tempDir } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

const run = promisify(execFile);

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sidecar: RunningSidecar;
let dataDir: string;
let logs = '';
/** Every secret used in this file (API tokens, JWTs): none may appear in logs, audit rows or list output. */
const secrets: string[] = [];

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'token', ...args], {
      env: { ...process.env, SIDECAR_DATA_DIR: dataDir, SIDECAR_CONFIG: '', SIDECAR_LOG_LEVEL: 'silent' },
    });
    return { ...r, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

async function call(method: string, p: string, auth?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(sidecar.proxyUrl + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** A real RS256 user token from the local test issuer (JWKS), verified by the sidecar's JWT verifier. */
const jwtFor = (username: string, groups: string[]) => `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: `id-${username}`, preferred_username: username, groups })}`;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  dataDir = tempDir('api-tokens-it-');
  const v = validate(
    merge(baseConfig(upstream.url, dataDir), {
      log: { level: 'debug' },
      apiTokens: { creatorGroups: ['jira-developers'] },
      jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
    }),
  );
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const logger = createLogger('debug', { write: (s: string) => void (logs += s) });
  sidecar = await startSidecar({ config: v.config, logger });
});

afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
  await issuer?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const lastSeen = () => upstream.seen.at(-1)!;

describe('API tokens minted with the CLI', () => {
  let token: string;
  let id: string;

  it('token create prints the secret once and the proxy accepts it as the owner', async () => {
    const r = await cli('create', '--owner', 'alice', '--name', 'ci pipeline', '--groups', 'jira-users,jira-developers', '--json');
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout) as { id: string; token: string; owner: string; status: string; groups: string[] };
    expect(created).toMatchObject({ owner: 'alice', status: 'active', groups: ['jira-users', 'jira-developers'] });
    ({ token, id } = created);
    secrets.push(token);

    const before = upstream.seen.length;
    const res = await call('GET', '/rest/test/echo', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(upstream.seen.length).toBe(before + 1);
    expect(lastSeen().headers['x-forwarded-user']).toBe('alice');
    expect(lastSeen().headers.authorization).toBeUndefined();
    expect(JSON.stringify(lastSeen().rawHeaders)).not.toContain(token);
  });

  it('stamps last-used (time and client IP) without a synchronous write', async () => {
    const rec = (await sidecar.runtime.deps.services.apiTokens!.get(id))!;
    expect(rec.lastUsedIp).toBe('127.0.0.1');
    expect(rec.lastUsedAt).toBeGreaterThan(0);
  });

  it('token list shows the token but never its secret or hash', async () => {
    const human = await cli('list');
    const json = await cli('list', '--owner', 'alice', '--json');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(id);
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((t) => t.id)).toContain(id);
    for (const out of [human.stdout, json.stdout]) {
      expect(out).not.toContain(token);
      expect(out).not.toMatch(/hash/i);
    }
  });

  it('token revoke takes effect on the next request: 401 token_revoked, Jira not called', async () => {
    const r = await cli('revoke', id);
    expect(r.code).toBe(0);
    const before = upstream.seen.length;
    const res = await call('GET', '/rest/test/echo', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('token_revoked');
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(upstream.seen.length).toBe(before);
    expect((await cli('revoke', 'tok_doesnotexist')).code).toBe(1);
  });

  it('an expired token is 401 token_expired', async () => {
    // Minted "two days ago" for one day, through the sidecar's own database.
    const old = new ApiTokens(sidecar.runtime.stores.tokens, { clock: fixedClock(Date.now() - 2 * 86_400_000) });
    const { token: expired } = await old.create({ owner: 'alice', name: 'old', days: 1, createdBy: 'test' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    secrets.push(expired);
    const before = upstream.seen.length;
    const res = await call('GET', '/rest/api/2/myself', `Bearer ${expired}`);
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('token_expired');
    expect(upstream.seen.length).toBe(before);
  });

  it('a wrong checksum is 401 token_invalid without a database lookup', async () => {
    const r = await cli('create', '--owner', 'alice', '--name', 'typo', '--json');
    const good = (JSON.parse(r.stdout) as { token: string }).token;
    secrets.push(good);
    const typo = good.slice(0, 10) + (good[10] === 'a' ? 'b' : 'a') + good.slice(11);
    const lookup = vi.spyOn(sidecar.runtime.deps.services.apiTokens!, 'findByToken');
    try {
      const res = await call('GET', '/rest/api/2/myself', `Bearer ${typo}`);
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('token_invalid');
      expect(lookup).not.toHaveBeenCalled();
    } finally {
      lookup.mockRestore();
    }
  });

  it('an unknown well-formed token is 401 token_invalid', async () => {
    const { generateApiToken } = await import('../../src/api-tokens/format.js');
    const res = await call('GET', '/rest/api/2/myself', `Bearer ${generateApiToken('jas_')}`);
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('token_invalid');
  });

  it('the path patterns and IP allow-list given at creation are enforced', async () => {
    const scoped = JSON.parse((await cli('create', '--owner', 'alice', '--name', 'search only', '--paths', '/rest/api/2/search', '--json')).stdout) as { token: string };
    const elsewhere = JSON.parse((await cli('create', '--owner', 'alice', '--name', 'office', '--ip-allowlist', '10.0.0.0/8', '--json')).stdout) as { token: string };
    secrets.push(scoped.token, elsewhere.token);
    expect((await call('GET', '/rest/api/2/search?jql=x', `Bearer ${scoped.token}`)).status).toBe(200);
    expect((await call('GET', '/rest/api/2/myself', `Bearer ${scoped.token}`)).json.error).toBe('token_scope');
    expect((await call('GET', '/rest/api/2/myself', `Bearer ${elsewhere.token}`)).json.error).toBe('ip_not_allowed');
  });

  it('token create --help documents every option', async () => {
    const r = await run(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'token', 'create', '--help']);
    for (const opt of ['--owner', '--name', '--read-only', '--paths', '--days', '--groups']) expect(r.stdout).toContain(opt);
  });

  it('token create refuses bad input with the flag named, exit 1', async () => {
    const r = await cli('create', '--owner', 'alice', '--name', 'x', '--paths', 'no-slash');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--paths');
  });
});

describe('self-service on /_sidecar/tokens', () => {
  let alice: string;
  let carol: string;
  let bob: string;
  beforeAll(() => {
    alice = jwtFor('alice', ['jira-users', 'jira-developers']);
    carol = jwtFor('carol', ['jira-developers']);
    bob = jwtFor('bob', ['jira-users']);
    secrets.push(alice, carol, bob); // JWTs are secrets too
  });
  let minted: { id: string; token: string };

  it('a creator mints a token with their JWT; the secret is shown once', async () => {
    const res = await call('POST', '/_sidecar/tokens', alice, { name: 'my laptop', readOnly: true, days: 30 });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json).toMatchObject({ owner: 'alice', name: 'my laptop', access: 'read', groups: ['jira-users', 'jira-developers'], status: 'active', createdBy: 'self-service:alice' });
    minted = { id: res.json.id, token: res.json.token };
    secrets.push(minted.token);

    const list = await call('GET', '/_sidecar/tokens', alice);
    expect(list.status).toBe(200);
    expect(list.json.tokens.map((t: { id: string }) => t.id)).toContain(minted.id);
    expect(list.json.tokens.every((t: { owner: string }) => t.owner === 'alice')).toBe(true);
    expect(list.text).not.toContain(minted.token);
    const one = await call('GET', `/_sidecar/tokens/${minted.id}`, alice);
    expect(one.json.id).toBe(minted.id);
    expect(one.text).not.toContain(minted.token);
  });

  it('the minted token works as alice, read-only as asked', async () => {
    const res = await call('GET', '/rest/api/2/myself', `Bearer ${minted.token}`);
    expect(res.status).toBe(200);
    expect(lastSeen().headers['x-forwarded-user']).toBe('alice');
    const before = upstream.seen.length;
    const write = await call('POST', '/rest/api/2/issue', `Bearer ${minted.token}`, { fields: {} });
    expect(write.status).toBe(403);
    expect(write.json.error).toBe('token_scope');
    expect(upstream.seen.length).toBe(before);
  });

  it('the days asked for are capped at maxLifetimeDays', async () => {
    const res = await call('POST', '/_sidecar/tokens', alice, { name: 'long', days: 10_000 });
    expect(res.status).toBe(201);
    secrets.push(res.json.token);
    const days = (Date.parse(res.json.expiresAt) - Date.parse(res.json.createdAt)) / 86_400_000;
    expect(days).toBe(90);
  });

  it('a caller outside creatorGroups gets 403 forbidden', async () => {
    for (const [method, p] of [['POST', '/_sidecar/tokens'], ['GET', '/_sidecar/tokens']] as const) {
      const res = await call(method, p, bob, method === 'POST' ? { name: 'x' } : undefined);
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: 'forbidden' });
      expect(typeof res.json.requestId).toBe('string');
    }
  });

  it('an API token cannot mint or list tokens', async () => {
    const res = await call('POST', '/_sidecar/tokens', `Bearer ${minted.token}`, { name: 'child' });
    expect(res.status).toBe(403);
    expect(res.json.error).toBe('forbidden');
    expect((await call('GET', '/_sidecar/tokens', `Bearer ${minted.token}`)).status).toBe(403);
  });

  it('no credential is 401 credential_missing; a forged JWT 401 token_invalid; a bad body 400 bad_request', async () => {
    expect((await call('GET', '/_sidecar/tokens')).json.error).toBe('credential_missing');
    // Right kid, wrong key: the signature does not verify.
    const forged = issuer.sign({ aud: 'jira-sidecar', preferred_username: 'alice', groups: ['jira-developers'] }, { key: issuer.newKey(issuer.current.kid) });
    const refused = await call('POST', '/_sidecar/tokens', `Bearer ${forged}`, { name: 'x' });
    expect(refused.status).toBe(401);
    expect(refused.json.error).toBe('token_invalid');
    const bad = await call('POST', '/_sidecar/tokens', alice, { name: 'x', rateLimit: { points: 1e9, durationSec: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('bad_request');
    const badPath = await call('POST', '/_sidecar/tokens', alice, { name: 'x', paths: ['nope'] });
    expect(badPath.status).toBe(400);
    const badMethod = await call('PUT', '/_sidecar/tokens', alice, {});
    expect(badMethod.status).toBe(400);
    expect(badMethod.headers.get('allow')).toBe('GET, POST');
  });

  it("another creator can neither see nor revoke alice's token (404)", async () => {
    expect((await call('GET', `/_sidecar/tokens/${minted.id}`, carol)).json.error).toBe('not_found');
    expect((await call('DELETE', `/_sidecar/tokens/${minted.id}`, carol)).json.error).toBe('not_found');
    expect((await call('GET', '/_sidecar/tokens', carol)).json.tokens).toEqual([]);
    expect((await call('GET', '/rest/api/2/myself', `Bearer ${minted.token}`)).status).toBe(200);
  });

  it('the owner revokes it; the next request is 401 token_revoked', async () => {
    const res = await call('DELETE', `/_sidecar/tokens/${minted.id}`, alice);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: minted.id, status: 'revoked' });
    const used = await call('GET', '/rest/api/2/myself', `Bearer ${minted.token}`);
    expect(used.status).toBe(401);
    expect(used.json.error).toBe('token_revoked');
  });

  it('a user with too many live tokens must revoke some first', async () => {
    const store = sidecar.runtime.deps.services.apiTokens!;
    for (let i = 0; i < MAX_ACTIVE_TOKENS_PER_OWNER; i++) await store.create({ owner: 'dave', name: `t${i}`, createdBy: 'test' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    const res = await call('POST', '/_sidecar/tokens', jwtFor('dave', ['jira-developers']), { name: 'one more' });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('bad_request');
    expect(await store.list({ owner: 'dave' })).toHaveLength(MAX_ACTIVE_TOKENS_PER_OWNER);
  });

  it('other /_sidecar-looking paths are not captured', async () => {
    await call('GET', '/_sidecar/tokensx', alice);
    expect(lastSeen().url).toBe('/_sidecar/tokensx');
  });
});

describe('audit', () => {
  it('token lifecycle (CLI and self-service) is on the admin chain; self-service calls have request rows', async () => {
    const db = sidecar.runtime.db!;
    const admin = db.prepare("SELECT actor, action, target, after_json FROM admin_audit WHERE action LIKE 'token.%' ORDER BY id").all() as Array<{ actor: string; action: string; target: string; after_json: string }>;
    expect(admin.some((r) => r.actor === 'cli' && r.action === 'token.create')).toBe(true);
    expect(admin.some((r) => r.actor === 'cli' && r.action === 'token.revoke')).toBe(true);
    expect(admin.some((r) => r.actor === 'self-service:alice' && r.action === 'token.create')).toBe(true);
    expect(admin.some((r) => r.actor === 'self-service:alice' && r.action === 'token.revoke')).toBe(true);
    for (const s of secrets) expect(JSON.stringify(admin)).not.toContain(s.slice(-30));
  });

  it('each self-service call is offered to the request audit sink (user, decision, reason)', async () => {
    const write = vi.spyOn(sidecar.runtime.deps.auditSink, 'write');
    try {
      await call('GET', '/_sidecar/tokens', jwtFor('alice', ['jira-developers']));
      await call('POST', '/_sidecar/tokens', jwtFor('bob', ['jira-users']), { name: 'x' });
      const rows = write.mock.calls.map(([r]) => r).filter((r) => r.path === '/_sidecar/tokens');
      expect(rows.map((r) => [r.method, r.user, r.decision, r.reason, r.status])).toEqual([
        ['GET', 'alice', 'allow', 'allowed', 200],
        ['POST', 'bob', 'deny', 'forbidden', 403],
      ]);
    } finally {
      write.mockRestore();
    }
  });
});

describe('secrets', () => {
  it('no minted secret appears in the logs', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(5);
    expect(logs).toContain('api token created');
    for (const s of secrets) expect(logs).not.toContain(s.slice(-30));
  });
});
