// Replay and the "who would break" report against the real thing (issue 18). Two sidecars in front
// of one Jira-like upstream: A runs today's config (Basic allowed, a read-only group in report
// mode), B runs the candidate (Basic off, more read-only groups, allowed groups, an IP allow-list,
// a stricter client list and a group rate limit). The same requests go through both, in the same
// order. Replaying A's audit rows with B's config must give, request by request, the verdict B
// actually gave; the report's counts must equal a brute-force count over A's rows.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { compilePolicy } from '../../src/config/policy.js';
import type { Config } from '../../src/config/schema.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import type { AuditRow } from '../../src/store/audit-store.js';
import { parseFacts } from '../../src/pipeline/audit/facts.js';
import { recordedVerdict, Replayer } from '../../src/rollout/replay.js';
import { replayPeriod } from '../../src/rollout/what-if.js';
import { readinessReport } from '../../src/rollout/readiness.js';
import { pathTemplate } from '../../src/rollout/path-template.js';
import { baseConfig, merge, tempDir } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let a: RunningSidecar;
let b: RunningSidecar;
const dirs: string[] = [];
let candidate: Config;
let started = 0;

const common = () => ({
  log: { level: 'warn' },
  audit: { flushIntervalMs: 10 },
  bypass: ['/rest/api/2/serverInfo'],
  access: { trustedProxies: ['127.0.0.1/32'] },
  rateLimit: { points: 1000, durationSec: 60 },
  jwt: {
    issuers: [
      {
        name: 'idp',
        issuer: issuer.url,
        audiences: ['jira-sidecar'],
        keys: { jwksUri: issuer.jwksUrl },
        clients: { claim: 'azp', allow: ['app-ok', 'app-new'], jiraAccounts: { 'app-ok': 'svc-ok', 'app-new': 'svc-new' } },
      },
    ],
  },
});

/** Today: Basic and the other Jira credentials pass through; auditors are read-only in report mode. */
const today = () => ({ credentials: { basic: 'passthrough' }, access: { readOnlyGroups: ['auditors'] }, enforcement: { rules: { readOnlyGroups: 'report' } } });

/** The candidate: everything an admin wants to switch on. */
const tomorrow = () => ({
  credentials: { basic: 'deny', session: 'deny', anonymous: 'passthrough' },
  access: {
    readOnlyGroups: ['auditors', 'contractors'],
    allowedGroups: ['jira-users', 'auditors', 'contractors'],
    ipAllowlist: ['10.0.0.0/8', '127.0.0.1/32'],
    groupIpAllowlists: { contractors: ['10.1.0.0/16'] },
  },
  jwt: { issuers: [{ ...common().jwt.issuers[0], clients: { claim: 'azp', allow: ['app-ok'], jiraAccounts: { 'app-ok': 'svc-ok', 'app-new': 'svc-new' } } }] },
  rateLimit: { groups: { contractors: { points: 3, durationSec: 60 } } },
  // Session cookies only reported: the candidate's own report-only rule shows in the replay too.
  enforcement: { rules: { 'credentials:session': 'report' } },
});

function configOf(over: unknown, dir: string): Config {
  const raw = merge(merge(baseConfig(upstream.url, dir), common()), over) as Record<string, unknown>;
  // merge() joins objects; the candidate's issuer list replaces today's.
  if ((over as { jwt?: unknown }).jwt) raw.jwt = (over as { jwt: unknown }).jwt;
  const v = validate(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
}

interface Req {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body?: string;
}

const user = (name: string, groups: string[]) => issuer.sign({ aud: 'jira-sidecar', sub: `id-${name}`, preferred_username: name, groups, idtyp: 'user' });
const app = (azp: string) => issuer.sign({ aud: 'jira-sidecar', sub: `sp-${azp}`, azp, idtyp: 'app', roles: ['Jira.Access'] });
const basicOf = (name: string) => `Basic ${Buffer.from(`${name}:pw-${name}`).toString('base64')}`;
const pat = () => Buffer.concat([Buffer.from('123456789012:'), randomBytes(20)]).toString('base64');

/** A deterministic mix of every credential kind, method and address the rules look at. */
function traffic(): Req[] {
  const ips = ['10.1.2.3', '10.9.9.9', '192.168.7.7', '127.0.0.1'];
  const paths = ['/rest/api/2/issue/DEMO-1', '/rest/api/2/issue/DEMO-22/comment', '/rest/api/2/myself', '/rest/api/2/search', '/rest/api/2/project/10001'];
  const jwts = {
    alice: user('alice', ['jira-users']),
    ann: user('ann', ['auditors']),
    carl: user('carl', ['contractors']),
    pete: user('pete', ['partners']),
    multi: user('mia', ['jira-users', 'contractors']),
    appOk: app('app-ok'),
    appNew: app('app-new'),
  };
  const patToken = pat();
  const out: Req[] = [];
  let n = 0;
  const add = (method: string, path: string, auth: Array<[string, string]>, extra: Array<[string, string]> = []) => {
    const ip = ips[n % ips.length]!;
    out.push({ method, path, headers: [['X-Forwarded-For', ip], ['User-Agent', `client-${n % 3}`], ...auth, ...extra], body: method === 'GET' || method === 'DELETE' ? undefined : '{}' });
    n++;
  };
  for (let round = 0; round < 3; round++) {
    for (const [i, p] of paths.entries()) {
      const m = ['GET', 'POST', 'PUT', 'GET', 'DELETE'][(i + round) % 5]!;
      const json: [string, string] = ['Content-Type', 'application/json'];
      for (const name of ['bob', 'carol', 'dave']) add(m, p, [['Authorization', basicOf(name)]], [json]);
      for (const t of Object.values(jwts)) add(m, p, [['Authorization', `Bearer ${t}`]], [json]);
      add(m, p, [['Authorization', `Bearer ${patToken}`]], [json]);
      add(m, p, [['Cookie', 'JSESSIONID=s1']], [json]);
      add(m, p, [['Authorization', 'OAuth oauth_consumer_key="applink-confluence", oauth_signature="c2ln", oauth_nonce="n"']], [json]);
      add('GET', p, []);
    }
    // The read-only rule's corners: a read-safe POST, one with a wrong content type, a method override.
    for (const t of [jwts.ann, jwts.carl]) {
      add('POST', '/rest/api/2/search', [['Authorization', `Bearer ${t}`]], [['Content-Type', 'application/json']]);
      add('POST', '/rest/api/2/search', [['Authorization', `Bearer ${t}`]], [['Content-Type', 'text/plain']]);
      add('POST', '/rest/api/2/issue/DEMO-1', [['Authorization', `Bearer ${t}`]], [['Content-Type', 'application/json'], ['X-HTTP-Method-Override', 'GET']]);
    }
    // A contractor's burst from an allowed address: the candidate's group limit (3 per minute) bites.
    for (let k = 0; k < 3; k++) out.push({ method: 'GET', path: '/rest/api/2/myself', headers: [['X-Forwarded-For', '10.1.2.3'], ['User-Agent', 'burst'], ['Authorization', `Bearer ${jwts.carl}`]] });
    add('GET', '/rest/api/2/serverInfo', []); // bypass
    add('GET', '/rest/api/2/serverInfo/../myself', [['Authorization', `Bearer ${jwts.alice}`]]); // altered spelling
    add('GET', '/rest/api/2/myself?os_username=erin&os_password=pw', []);
    add('GET', '/rest/api/2/myself', [['Authorization', 'Bearer not.a.jwt']]);
  }
  return out;
}

async function send(s: RunningSidecar, r: Req): Promise<number> {
  return (await rawRequest(s.proxyUrl, { method: r.method, path: r.path, headers: r.headers, body: r.body })).status;
}

async function rowsOf(s: RunningSidecar, n: number): Promise<AuditRow[]> {
  await until(async () => (await s.runtime.stores.audit.count({})) >= n, `${n} audit rows`);
  return (await s.runtime.stores.audit.chunk({}, { limit: 100_000 })).sort((x, y) => x.id - y.id);
}

const requests: Req[] = [];
let rowsA: AuditRow[] = [];
let rowsB: AuditRow[] = [];

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  const [da, db] = [tempDir('rollout-a-'), tempDir('rollout-b-')];
  dirs.push(da, db);
  const logger = createLogger('warn', { write: () => {} });
  a = await startSidecar({ config: configOf(today(), da), logger });
  candidate = configOf(tomorrow(), db);
  b = await startSidecar({ config: candidate, logger });
  started = Date.now();
  requests.push(...traffic());
  for (const r of requests) {
    await send(a, r);
    await send(b, r);
  }
  rowsA = await rowsOf(a, requests.length);
  rowsB = await rowsOf(b, requests.length);
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await upstream?.close();
  await issuer?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('replay', () => {
  it('gives, request by request, the verdict the sidecar running the candidate gave', () => {
    // Every request was audited once by each, in sending order.
    expect(rowsA).toHaveLength(requests.length);
    expect(rowsB).toHaveLength(requests.length);
    const replayer = new Replayer(compilePolicy(candidate));
    const mismatches: string[] = [];
    let changed = 0;
    for (let i = 0; i < requests.length; i++) {
      const now = replayer.judge(rowsA[i]!);
      const live = recordedVerdict(rowsB[i]!);
      if (now.undetermined !== undefined) {
        mismatches.push(`#${i} ${requests[i]!.method} ${requests[i]!.path}: undetermined (${now.undetermined})`);
        continue;
      }
      if (now.allow !== live.allow || now.code !== live.code) mismatches.push(`#${i} ${requests[i]!.method} ${requests[i]!.path}: replay ${now.code}, live ${live.code}`);
      if (recordedVerdict(rowsA[i]!).allow !== live.allow) changed++;
    }
    expect(mismatches).toEqual([]);
    // The candidate changes a lot, and every rule family in it refused something live.
    expect(changed).toBeGreaterThan(50);
    const liveCodes = new Set(rowsB.filter((r) => r.decision === 'deny').map((r) => r.reason));
    for (const code of ['credential_kind_denied', 'read_only', 'group_not_allowed', 'ip_not_allowed', 'client_not_allowed', 'rate_limited']) expect(liveCodes, code).toContain(code);
  });

  it('the summary counts equal a brute-force comparison of the two sidecars, and report-only rows are counted', async () => {
    const r = await replayPeriod(a.runtime.stores.audit, compilePolicy(candidate), started - 60_000, Date.now() + 1);
    const was = rowsA.map(recordedVerdict);
    const live = rowsB.map(recordedVerdict);
    const count = (f: (i: number) => boolean) => requests.reduce((n, _, i) => n + (f(i) ? 1 : 0), 0);
    expect(r.scanned).toBe(requests.length);
    expect(r.undetermined).toBe(0);
    expect(r.allowedToDenied).toBe(count((i) => was[i]!.allow && !live[i]!.allow));
    expect(r.deniedToAllowed).toBe(count((i) => !was[i]!.allow && live[i]!.allow));
    expect(r.codeChanged).toBe(count((i) => !was[i]!.allow && !live[i]!.allow && was[i]!.code !== live[i]!.code));
    expect(r.unchanged + r.codeChanged + r.allowedToDenied + r.deniedToAllowed).toBe(requests.length);
    // Session cookies are only reported by the candidate: allowed, with a would-deny.
    expect(r.wouldDeny).toBe(rowsB.filter((x) => x.wouldDeny !== null && x.decision !== 'deny').length);
    for (const [code, n] of Object.entries(r.byCode)) {
      expect(n.allowedToDenied, code).toBe(count((i) => was[i]!.allow && !live[i]!.allow && live[i]!.code === code));
    }
    // Basic users are named by the user name they sent (never the password).
    expect(r.byUser.map((u) => u.name)).toEqual(expect.arrayContaining(['bob', 'carol', 'dave', 'erin']));
    expect(JSON.stringify(r)).not.toMatch(/pw-bob|pw-carol/);
    expect(r.changes.length).toBe(Math.min(200, r.allowedToDenied + r.deniedToAllowed));
  });

  it("replaying today's config over its own recording gives back what happened, row by row", () => {
    const replayer = new Replayer(a.runtime.deps.getPolicy());
    const diffs = rowsA.flatMap((row, i) => {
      const now = replayer.judge(row);
      const was = recordedVerdict(row);
      return now.undetermined !== undefined || now.code !== was.code ? [`#${i} ${row.method} ${row.path}: ${now.undetermined ?? now.code} vs ${was.code}`] : [];
    });
    expect(diffs).toEqual([]);
  });

  it('against the current config (the Save preview), only what the change itself does is counted', async () => {
    const period: [number, number] = [started - 60_000, Date.now() + 1];
    const same = await replayPeriod(a.runtime.stores.audit, compilePolicy(candidate), ...period, { baseline: compilePolicy(candidate) });
    expect(same).toMatchObject({ against: 'current', allowedToDenied: 0, deniedToAllowed: 0, codeChanged: 0, unchanged: requests.length });
    const vsToday = await replayPeriod(a.runtime.stores.audit, compilePolicy(candidate), ...period, { baseline: a.runtime.deps.getPolicy() });
    const vsRecorded = await replayPeriod(a.runtime.stores.audit, compilePolicy(candidate), ...period);
    // Today's config replayed is what happened (the test above), so both comparisons agree here.
    expect({ ...vsToday, against: 'recorded' }).toEqual(vsRecorded);
  });

  it('rows written before 0.7 (no facts) are undetermined, never guessed', () => {
    const replayer = new Replayer(compilePolicy(candidate));
    expect(replayer.judge({ ...rowsA[0]!, facts: null })).toEqual({ undetermined: 'recorded before 0.7 (no decision facts)' });
  });
});

describe('who would break', () => {
  it("each switch's counts equal a brute-force count over the recorded rows", async () => {
    const report = await readinessReport(a.runtime.stores.audit, started - 60_000, Date.now() + 1, { topN: 1000 });
    expect(report.scanned).toBe(rowsA.length);
    const works = rowsA.filter((r) => recordedVerdict(r).allow);
    const distinct = (rows: AuditRow[], f: (r: AuditRow) => string | null) => new Set(rows.map(f).filter((x) => x !== null)).size;
    const principal = (r: AuditRow) => r.user ?? parseFacts(r.facts)?.cp ?? '(unknown)';
    const expectSwitch = (id: string, rows: AuditRow[], refused: number) => {
      const s = report.switches.find((x) => x.id === id)!;
      expect(s, id).toBeDefined();
      expect(s.requests, id).toBe(rows.length);
      expect(s.refused, id).toBe(refused);
      expect(s.users, id).toBe(distinct(rows, principal));
      expect(s.addresses, id).toBe(distinct(rows, (r) => r.clientIp));
      expect(s.userAgents, id).toBe(distinct(rows, (r) => r.userAgent ?? '(none)'));
      expect(s.series.reduce((n, p) => n + p.requests, 0), id).toBe(rows.length);
      const paths = new Map<string, number>();
      for (const r of rows) paths.set(`${r.method} ${pathTemplate(r.path)}`, (paths.get(`${r.method} ${pathTemplate(r.path)}`) ?? 0) + 1);
      expect(Object.fromEntries(s.top.paths.map((p) => [p.name, p.requests])), id).toEqual(Object.fromEntries(paths));
      return s;
    };
    const basic = expectSwitch('credentials:basic', works.filter((r) => r.credentialKind === 'basic'), rowsA.filter((r) => r.credentialKind === 'basic' && !recordedVerdict(r).allow).length);
    expect(basic.users).toBe(4); // bob, carol, dave in the header, erin in os_username
    expect(basic.forms).toEqual({ 'Authorization: Basic': 45, 'os_username/os_password': 3 });
    expect(basic.top.users.map((u) => u.name).sort()).toEqual(['bob', 'carol', 'dave', 'erin']);
    expectSwitch('credentials:jiraPat', works.filter((r) => r.credentialKind === 'jira-pat'), 0);
    const pat = report.switches.find((x) => x.id === 'credentials:jiraPat')!;
    expect(pat.top.clients.map((c) => c.name)).toEqual(['PAT 123456789012']);
    expectSwitch('credentials:oauth1', works.filter((r) => r.credentialKind === 'oauth1'), 0);
    expect(report.switches.find((x) => x.id === 'credentials:oauth1')!.top.clients.map((c) => c.name)).toEqual(['consumer applink-confluence']);
    expectSwitch('credentials:session', works.filter((r) => r.credentialKind === 'session'), 0);
    expectSwitch('credentials:anonymous', works.filter((r) => r.credentialKind === 'anonymous'), 0);
    const ro = expectSwitch('rule:readOnlyGroups:auditors', works.filter((r) => parseFacts(r.facts)?.wd?.some(([, k]) => k === 'readOnlyGroups:auditors')), 0);
    expect(ro.code).toBe('read_only');
    expect(ro.top.users.map((u) => u.name)).toEqual(['ann']);
    // Nothing secret in the report.
    expect(JSON.stringify(report)).not.toMatch(/pw-|eyJ|c2ln/);
  });
});
