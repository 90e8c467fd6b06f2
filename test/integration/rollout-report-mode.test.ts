// Report-only rules (issue 18) through the real proxy: for each refusing rule family, the request a
// rule in report mode would refuse reaches Jira unchanged, the caller sees exactly what it sees with
// the rule absent (status, body, no extra header), the audit row carries wouldDeny with the code
// enforcing would have answered, and sidecar_would_deny_total counts it. Verification failures are
// never report-only. One sidecar, reconfigured per case (runtime.applyConfig, as PUT /api/config).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import type { AuditRow } from '../../src/store/audit-store.js';
import { parseFacts } from '../../src/pipeline/audit/facts.js';
import { baseConfig, merge, tempDir } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sidecar: RunningSidecar;
let dataDir: string;

const base = () =>
  merge(baseConfig(upstream.url, dataDir), {
    log: { level: 'warn' },
    audit: { flushIntervalMs: 10 },
    jwt: {
      issuers: [
        {
          name: 'test',
          issuer: issuer.url,
          audiences: ['jira-sidecar'],
          keys: { jwksUri: issuer.jwksUrl },
          clients: { claim: 'azp', allow: ['app-ok'], jiraAccounts: { 'app-ok': 'svc-ok', 'app-new': 'svc-new' } },
        },
      ],
    },
  });

function configure(over: unknown = {}) {
  const v = validate(merge(base(), over));
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  sidecar.runtime.applyConfig(v.config);
}

const userToken = (username: string, groups: string[]) => issuer.sign({ aud: 'jira-sidecar', sub: `id-${username}`, preferred_username: username, groups, idtyp: 'user' });
const appToken = (azp: string) => issuer.sign({ aud: 'jira-sidecar', sub: `sp-${azp}`, azp, idtyp: 'app', roles: ['Jira.Access'] });
const bearer = (t: string): [string, string] => ['Authorization', `Bearer ${t}`];
const basic = (user: string): [string, string] => ['Authorization', `Basic ${Buffer.from(`${user}:secret-password`).toString('base64')}`];

async function call(method: string, path: string, headers: Array<[string, string]> = [], body?: string) {
  const before = upstream.seen.length;
  const r = await rawRequest(sidecar.proxyUrl, { method, path, headers: [['User-Agent', 'rollout-test/1'], ...headers], body });
  return { status: r.status, headers: r.headers, body: r.body.toString('utf8'), reached: upstream.seen.slice(before), requestId: String(r.headers['x-request-id']) };
}

async function rowOf(requestId: string): Promise<AuditRow> {
  let row: AuditRow | undefined;
  await until(async () => {
    row = (await sidecar.runtime.stores.audit.page({}, { limit: 50 })).find((r) => r.requestId === requestId);
    return row !== undefined;
  }, `audit row of ${requestId}`);
  return row!;
}

async function wouldDenyCount(code: string): Promise<number> {
  const m = await sidecar.runtime.deps.metrics.registry.getSingleMetric('sidecar_would_deny_total')!.get();
  return m.values.find((v) => v.labels.code === code)?.value ?? 0;
}

/** Response headers a caller could tell apart (those that change per request left out). */
const headerNames = (h: Record<string, unknown>) => Object.keys(h).filter((n) => !['date', 'x-request-id', 'content-length', 'etag'].includes(n)).sort();

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  dataDir = tempDir('rollout-report-');
  const v = validate(base());
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  sidecar = await startSidecar({ config: v.config, logger: createLogger('warn', { write: () => {} }) });
});

afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
  await issuer?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface Case {
  family: string;
  /** The rule, enforced. */
  rule: Record<string, unknown>;
  /** The config without the rule (the caller must see no difference from this). */
  absent: Record<string, unknown>;
  /** enforcement.rules key that puts it in report mode. */
  key: string;
  code: string;
  send: () => ReturnType<typeof call>;
}

const cases = (): Case[] => [
  {
    family: 'a credential kind (Basic)',
    rule: { credentials: { basic: 'deny' } },
    absent: { credentials: { basic: 'passthrough' } },
    key: 'credentials:basic',
    code: 'credential_kind_denied',
    send: () => call('GET', '/rest/api/2/myself', [basic('alice')]),
  },
  {
    family: 'a credential kind (Jira session cookie)',
    rule: { credentials: { session: 'deny' } },
    absent: {},
    key: 'credentials',
    code: 'credential_kind_denied',
    send: () => call('GET', '/rest/api/2/myself', [['Cookie', 'JSESSIONID=abc123']]),
  },
  {
    family: 'lockdown',
    rule: { publicApiLockdown: { enabled: true, all: true } },
    absent: {},
    key: 'lockdown',
    code: 'lockdown',
    send: () => call('GET', '/rest/api/2/serverInfo'),
  },
  {
    family: 'allowed groups',
    rule: { access: { allowedGroups: ['jira-users'] } },
    absent: {},
    key: 'allowedGroups',
    code: 'group_not_allowed',
    send: () => call('GET', '/rest/api/2/myself', [bearer(userToken('erin', ['contractors']))]),
  },
  {
    family: 'a read-only group',
    rule: { access: { readOnlyGroups: ['auditors'] } },
    absent: {},
    key: 'readOnlyGroups:auditors',
    code: 'read_only',
    send: () => call('POST', '/rest/api/2/issue', [bearer(userToken('ann', ['auditors'])), ['Content-Type', 'application/json']], '{}'),
  },
  {
    family: 'the IP allow-list',
    rule: { access: { ipAllowlist: ['10.0.0.0/8'] } },
    absent: {},
    key: 'ipAllowlist:global',
    code: 'ip_not_allowed',
    send: () => call('GET', '/rest/api/2/myself', [bearer(userToken('bob', []))]),
  },
  {
    family: 'a per-group IP allow-list',
    rule: { access: { groupIpAllowlists: { partners: ['10.0.0.0/8'] } } },
    absent: {},
    key: 'ipAllowlist:partners',
    code: 'ip_not_allowed',
    send: () => call('GET', '/rest/api/2/myself', [bearer(userToken('pat', ['partners']))]),
  },
  {
    family: "an issuer's client ACL",
    rule: {},
    absent: { jwt: { issuers: [{ name: 'test', issuer: 'x', audiences: ['jira-sidecar'], keys: {}, clients: { claim: 'azp', allow: ['app-ok', 'app-new'], jiraAccounts: { 'app-ok': 'svc-ok', 'app-new': 'svc-new' } } }] } },
    key: 'clientAcl:test',
    code: 'client_not_allowed',
    send: () => call('GET', '/rest/api/2/myself', [bearer(appToken('app-new'))]),
  },
];

describe('report mode, family by family', () => {
  for (const c of cases()) {
    it(`${c.family}: enforced it refuses; in report mode Jira gets the request, the caller sees no difference, the row says wouldDeny ${c.code}`, async () => {
      configure(c.rule);
      const enforced = await c.send();
      expect(enforced.reached).toEqual([]);
      expect(JSON.parse(enforced.body).error).toBe(c.code);
      expect((await rowOf(enforced.requestId)).wouldDeny).toBeNull();

      // The rule absent (client ACL: the client listed) is what the caller must not be able to tell apart.
      if (c.family.includes('client ACL')) {
        const issuers = (base() as { jwt: { issuers: Array<Record<string, unknown>> } }).jwt.issuers;
        configure({ jwt: { issuers: [{ ...issuers[0], clients: { claim: 'azp', allow: ['app-ok', 'app-new'], jiraAccounts: { 'app-ok': 'svc-ok', 'app-new': 'svc-new' } } }] } });
      } else configure(c.absent);
      const withoutRule = await c.send();
      const counted = await wouldDenyCount(c.code);

      configure(merge(c.rule, { enforcement: { rules: { [c.key]: 'report' } } }));
      const reported = await c.send();
      expect(reported.status).toBe(withoutRule.status);
      expect(reported.reached).toHaveLength(1);
      expect(reported.reached[0]!.url).toBe(withoutRule.reached[0]!.url);
      // The fake Jira numbers what it creates: the same answer up to those numbers.
      expect(reported.body.replace(/\d+/g, 'N')).toBe(withoutRule.body.replace(/\d+/g, 'N'));
      expect(headerNames(reported.headers)).toEqual(headerNames(withoutRule.headers));

      const row = await rowOf(reported.requestId);
      expect(row.wouldDeny).toBe(c.code);
      expect(row.decision).not.toBe('deny');
      expect(parseFacts(row.facts)?.wd?.[0]).toEqual([c.code, c.key === 'credentials' ? 'credentials:session' : c.key]);
      expect(row.userAgent).toBe('rollout-test/1');
      expect(await wouldDenyCount(c.code)).toBe(counted + 1);
    });
  }

  it('token scope: a read API token writing goes through in report mode and is recorded', async () => {
    configure();
    const { token } = await sidecar.runtime.deps.services.apiTokens!.create({ owner: 'reader', name: 'ro', createdBy: 'test', access: 'read' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    const write = () => call('PUT', '/rest/api/2/issue/DEMO-1', [bearer(token), ['Content-Type', 'application/json']], '{}');
    const enforced = await write();
    expect(JSON.parse(enforced.body).error).toBe('token_scope');
    configure({ enforcement: { rules: { tokenScope: 'report' } } });
    const reported = await write();
    expect(reported.reached).toHaveLength(1);
    expect((await rowOf(reported.requestId)).wouldDeny).toBe('token_scope');
  });

  it('rate limit: over the limit in report mode is forwarded, without any RateLimit-* or Retry-After header, and recorded', async () => {
    configure({ rateLimit: { points: 2, durationSec: 60 }, enforcement: { rules: { 'rateLimit:default': 'report' } } });
    const t = bearer(userToken('ratty', []));
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await call('GET', '/rest/api/2/myself', [t]));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    for (const a of answers) expect(Object.keys(a.headers).filter((h) => /^(ratelimit|retry-after|x-ratelimit)/i.test(h))).toEqual([]);
    const rows = await Promise.all(answers.map((a) => rowOf(a.requestId)));
    expect(rows.map((r) => r.wouldDeny)).toEqual([null, null, 'rate_limited', 'rate_limited']);
    // Enforced again, the same bucket (points were counted in report mode too) refuses at once.
    configure({ rateLimit: { points: 2, durationSec: 60 } });
    const after = await call('GET', '/rest/api/2/myself', [t]);
    expect(after.status).toBe(429);
  });

  it("a family's own settings object may say mode: report (publicApiLockdown.mode, credentials.mode), and an enforcement.rules entry wins over it", async () => {
    configure({ publicApiLockdown: { enabled: true, all: true, mode: 'report' } });
    const r = await call('GET', '/rest/api/2/serverInfo');
    expect(r.reached).toHaveLength(1);
    expect((await rowOf(r.requestId)).wouldDeny).toBe('lockdown');
    configure({ credentials: { mode: 'report' }, enforcement: { rules: { 'credentials:basic': 'enforce' } } });
    const b = await call('GET', '/rest/api/2/myself', [basic('bo')]);
    expect(JSON.parse(b.body).error).toBe('credential_kind_denied');
    configure({ credentials: { session: 'deny', mode: 'report' } });
    expect((await call('GET', '/rest/api/2/myself', [['Cookie', 'JSESSIONID=x']])).reached).toHaveLength(1);
  });

  it('several rules in report mode: every one is recorded in order; the column holds the first', async () => {
    configure({ access: { readOnlyGroups: ['auditors'], ipAllowlist: ['10.0.0.0/8'] }, enforcement: { mode: 'report' } });
    const r = await call('DELETE', '/rest/api/2/issue/DEMO-2', [bearer(userToken('amy', ['auditors']))]);
    expect(r.reached).toHaveLength(1);
    const row = await rowOf(r.requestId);
    expect(row.wouldDeny).toBe('ip_not_allowed');
    expect(parseFacts(row.facts)?.wd).toEqual([['ip_not_allowed', 'ipAllowlist:global'], ['read_only', 'readOnlyGroups:auditors']]);
  });

  it('an enforced rule still refuses when another one only reports', async () => {
    configure({ access: { readOnlyGroups: ['auditors'], ipAllowlist: ['10.0.0.0/8'] }, enforcement: { rules: { ipAllowlist: 'report' } } });
    const r = await call('DELETE', '/rest/api/2/issue/DEMO-3', [bearer(userToken('amy', ['auditors']))]);
    expect(r.reached).toEqual([]);
    expect(JSON.parse(r.body).error).toBe('read_only');
    const row = await rowOf(r.requestId);
    expect(row).toMatchObject({ decision: 'deny', reason: 'read_only', wouldDeny: 'ip_not_allowed' });
  });

  describe('verification failures are never report-only (enforcement.mode: report)', () => {
    const forged = () => {
      const t = userToken('mallory', ['jira-administrators']);
      const [h, p] = t.split('.');
      return `${h}.${p}.${'A'.repeat(342)}`;
    };
    const attacks: Array<[string, () => Array<[string, string]>, string]> = [
      ['a forged signature', () => [bearer(forged())], 'token_invalid'],
      ['an expired token', () => [bearer(issuer.sign({ aud: 'jira-sidecar', preferred_username: 'old', exp: Math.floor(Date.now() / 1000) - 3600 }))], 'token_expired'],
      ['a wrong audience', () => [bearer(issuer.sign({ aud: 'other-api', preferred_username: 'x' }))], 'token_invalid'],
      ['an API token with a wrong checksum', () => [bearer('jas_' + 'a'.repeat(40))], 'token_invalid'],
      ['two Authorization headers', () => [bearer(userToken('a', [])), basic('b')], 'credential_malformed'],
      ['a token in the query string', () => [], 'credential_kind_denied'],
      ['a client outside clients.allow without a Jira account', () => [bearer(appToken('app-unknown'))], 'client_not_allowed'],
    ];
    for (const [what, headers, code] of attacks) {
      it(`${what} is refused with ${code}`, async () => {
        configure({ enforcement: { mode: 'report' } });
        const r = await call('GET', what.includes('query') ? '/rest/api/2/myself?access_token=abc' : '/rest/api/2/myself', headers());
        expect(r.reached).toEqual([]);
        expect(JSON.parse(r.body).error).toBe(code);
      });
    }
  });
});

describe('POST /api/test shows report-only refusals', () => {
  it('lists wouldDeny and a report verdict, and allows', async () => {
    configure({ access: { readOnlyGroups: ['auditors'] }, enforcement: { rules: { readOnlyGroups: 'report' } } });
    const { evaluate } = await import('../../src/pipeline/evaluate.js');
    const { decision } = await evaluate(
      { method: 'POST', rawTarget: '/rest/api/2/issue', headers: { authorization: `Bearer ${userToken('ann', ['auditors'])}` }, rawHeaders: [], peerIp: '127.0.0.1', receivedAt: Date.now() },
      sidecar.runtime.deps,
    );
    expect(decision.allow).toBe(true);
    expect(decision.wouldDeny).toEqual([expect.objectContaining({ code: 'read_only', stage: 'authorize', rule: 'readOnlyGroups:auditors' })]);
    expect(decision.verdicts.find((v) => v.rule === 'read-only')).toMatchObject({ outcome: 'report', code: 'read_only' });
  });
});
