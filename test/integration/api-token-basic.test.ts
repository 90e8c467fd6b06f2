// Our API tokens sent as the password of HTTP Basic (issue 19: Zapier and other clients that only
// speak Basic), through the real proxy in front of the Jira-like upstream: a forged-credential
// table. The token is accepted only with its owner as the user part, is never handed to Jira (Jira
// sees the identity header), and one of our tokens is never treated as a Jira password, whatever
// credentials.basic says. Refused requests must never reach Jira.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { generateApiToken } from '../../src/api-tokens/format.js';
import { evaluate } from '../../src/pipeline/evaluate.js';
import type { RequestFacts } from '../../src/pipeline/state.js';
import type { AuditRecord } from '../../src/pipeline/audit/sink.js';
import { baseConfig, merge, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { json, rawRequest } from '../helpers/http.js';

let upstream: JiraUpstream;
let sidecar: TestSidecar;
let token: string;
let revoked: string;
const never = generateApiToken('jas_'); // a valid checksum, never issued
let badChecksum: string;

const basic = (user: string, password: string): [string, string] => ['Authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`];

function configure(over: unknown = {}) {
  const v = validate(merge(baseConfig(upstream.url, sidecar.dataDir), over));
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  sidecar.runtime.applyConfig(v.config);
}

async function call(path: string, headers: Array<[string, string]> = []) {
  const before = upstream.seen.length;
  const r = await rawRequest(sidecar.proxyUrl, { path, headers });
  const reached = upstream.seen.slice(before);
  const body = r.headers['content-type']?.includes('json') ? (json(r) as Record<string, any>) : undefined;
  return { status: r.status, error: reached.length === 0 ? (body?.error as string | undefined) : undefined, message: body?.message as string | undefined, reached, body };
}

const mint = async (owner: string) =>
  sidecar.runtime.deps.services.apiTokens!.create({ owner, name: 'zapier', groups: ['jira-users'], createdBy: 'test' }, { prefix: 'jas_', maxLifetimeDays: 90 });

beforeAll(async () => {
  upstream = await startJiraUpstream();
  sidecar = await startTestSidecar(upstream.url, {});
  token = (await mint('alice')).token;
  const old = await mint('alice');
  await sidecar.runtime.deps.services.apiTokens!.revoke(old.id);
  revoked = old.token;
  badChecksum = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
});

afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
});

beforeEach(() => configure());

describe('forged-credential table (credentials.basic: deny, the default)', () => {
  type Row = [name: string, headers: () => Array<[string, string]>, expected: string, path?: () => string];
  const rows: Row[] = [
    ['right user + right token', () => [basic('alice', token)], '200 alice'],
    ['wrong user + right token', () => [basic('bob', token)], '401 token_invalid'],
    ['user differing only in case + right token', () => [basic('Alice', token)], '401 token_invalid'],
    ['right user + a token never issued', () => [basic('alice', never)], '401 token_invalid'],
    ['right user + token with a bad checksum', () => [basic('alice', badChecksum)], '401 token_invalid'],
    ['a Jira password', () => [basic('alice', 'hunter2')], '401 credential_kind_denied'],
    ['right user + revoked token', () => [basic('alice', revoked)], '401 token_revoked'],
    ['token as os_password', () => [], '401 credential_kind_denied', () => `/rest/test/echo?os_username=alice&os_password=${token}`],
    ['bad checksum as os_password', () => [], '401 credential_kind_denied', () => `/rest/test/echo?os_username=alice&os_password=${badChecksum}`],
  ];
  it.each(rows)('%s', async (_name, headers, expected, path) => {
    const r = await call(path?.() ?? '/rest/test/echo', headers());
    if (expected.startsWith('200')) {
      expect(r.status).toBe(200);
      expect(r.reached).toHaveLength(1);
      const seen = r.reached[0]!;
      expect(`200 ${seen.headers['x-forwarded-user']}`).toBe(expected);
      // Jira sees the identity header, never the token (no Authorization at all, nothing in any header).
      expect(seen.headers.authorization).toBeUndefined();
      expect(JSON.stringify(seen.rawHeaders)).not.toContain(token);
      expect(seen.url).not.toContain(token);
    } else {
      expect(r.reached).toEqual([]);
      expect(`${r.status} ${r.error}`).toBe(expected);
    }
  });

  it('a wrong user answers exactly like a token that does not exist', async () => {
    const wrongUser = await call('/rest/test/echo', [basic('bob', token)]);
    const unknown = await call('/rest/test/echo', [basic('bob', never)]);
    expect([wrongUser.status, wrongUser.error, wrongUser.message]).toEqual([unknown.status, unknown.error, unknown.message]);
  });
});

describe('with credentials.basic: passthrough', () => {
  beforeEach(() => configure({ credentials: { basic: 'passthrough' } }));

  it('a Jira password still goes to Jira as presented', async () => {
    const r = await call('/rest/test/echo', [basic('alice', 'hunter2')]);
    expect(r.status).toBe(200);
    expect(r.reached[0]!.headers.authorization).toBe(basic('alice', 'hunter2')[1]);
  });

  it('our token is still verified, and replaced by the identity header', async () => {
    const r = await call('/rest/test/echo', [basic('alice', token)]);
    expect(r.status).toBe(200);
    expect(r.reached[0]!.headers['x-forwarded-user']).toBe('alice');
    expect(r.reached[0]!.headers.authorization).toBeUndefined();
  });

  it('a token with a bad checksum, a wrong user or in os_password never reaches Jira as a password', async () => {
    expect((await call('/rest/test/echo', [basic('alice', badChecksum)])).error).toBe('token_invalid');
    expect((await call('/rest/test/echo', [basic('bob', token)])).error).toBe('token_invalid');
    expect((await call(`/rest/test/echo?os_username=alice&os_password=${token}`)).error).toBe('credential_kind_denied');
  });

  it('credentials.apiToken passthrough: a token as the Basic password is refused, never forwarded', async () => {
    configure({ credentials: { basic: 'passthrough', apiToken: 'passthrough' } });
    expect((await call('/rest/test/echo', [basic('alice', token)])).error).toBe('credential_kind_denied');
  });
});

describe('decision and audit', () => {
  const facts = (headers: Array<[string, string]>): RequestFacts => ({
    method: 'GET',
    rawTarget: '/rest/api/2/myself',
    headers: Object.fromEntries(headers.map(([k, v]) => [k.toLowerCase(), v])),
    rawHeaders: headers.flat(),
    peerIp: '127.0.0.1',
    receivedAt: Date.now(),
  });

  it('POST /api/test explains a wrong user with rule api-token:basic-user', async () => {
    const ok = await evaluate(facts([basic('alice', token)]), sidecar.runtime.deps);
    expect(ok.decision).toMatchObject({ allow: true, credentialKind: 'api-token', identity: { username: 'alice', source: 'api-token' } });
    const wrong = await evaluate(facts([basic('bob', token)]), sidecar.runtime.deps);
    expect(wrong.decision).toMatchObject({ allow: false, code: 'token_invalid', rule: 'api-token:basic-user' });
  });

  it('the audit row names the owner and the kind, never the token', async () => {
    const write = vi.spyOn(sidecar.runtime.deps.auditSink, 'write');
    try {
      await call('/rest/test/echo', [basic('alice', token)]);
      await call('/rest/test/echo', [basic('bob', token)]);
      const rows = write.mock.calls.map(([r]) => r as AuditRecord).filter((r) => r.path === '/rest/test/echo');
      expect(rows.map((r) => [r.user, r.credentialKind, r.decision, r.reason])).toEqual([
        ['alice', 'api-token', 'allow', 'allowed'],
        [null, 'api-token', 'deny', 'token_invalid'],
      ]);
      expect(JSON.stringify(rows)).not.toContain(token.slice(-30));
    } finally {
      write.mockRestore();
    }
  });
});
