// Issue 23 (1): Jira forwards "/s/<anything>/_/<path>" to "/<path>" (urlrewrite.xml), so every
// spelling of it is an attack on the /rest/ rules. Through the real proxy, with lockdown of
// everything, Basic denied and an IP allow-list of 10.0.0.0/8: each spelling is refused and Jira
// sees nothing; a valid caller still reaches Jira through the rewrite, judged at the rewritten path.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { baseConfig, merge, tempDir } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { json, rawRequest } from '../helpers/http.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sidecar: RunningSidecar;
let dataDir: string;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  dataDir = tempDir('jira-rewrite-it-');
  const v = validate(
    merge(baseConfig(upstream.url, dataDir), {
      log: { level: 'warn' },
      protectedPaths: ['/rest/', '/jira/rest/'],
      bypass: ['/rest/api/2/serverInfo'],
      publicApiLockdown: { enabled: true, all: true },
      credentials: { basic: 'deny' },
      access: { ipAllowlist: ['10.0.0.0/8'], trustedProxies: ['127.0.0.1/32'] },
      jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
    }),
  );
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  sidecar = await startSidecar({ config: v.config, logger: createLogger('warn', { write: () => {} }) });
});

afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
  await issuer?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function call(path: string, headers: Array<[string, string]>) {
  const before = upstream.seen.length;
  const r = await rawRequest(sidecar.proxyUrl, { method: 'GET', path, headers });
  const reached = upstream.seen.slice(before);
  const code = reached.length === 0 && r.headers['content-type']?.includes('json') ? (json(r) as { error?: string }).error : undefined;
  return { status: r.status, code, reached };
}

const basic: [string, string] = ['Authorization', 'Basic YWRtaW46YWRtaW4='];
const from = (ip: string): [string, string] => ['X-Forwarded-For', ip];

// Every spelling of the rewrite that lands on /rest/ (or is ambiguous about it).
const spellings = [
  '/s/x/_/rest/api/2/myself',
  '/s/x/_/rest/api/2/user?username=admin',
  '/S/x/_/rest/api/2/myself',
  '/s/a/b/c/_/rest/api/2/myself',
  '/s/a/_/s/b/_/rest/api/2/myself',
  '/s/a/_/x/_/rest/api/2/myself',
  '/s/x/%5f/rest/api/2/myself',
  '/s/x/%5F/rest/api/2/myself',
  '/%73/x/_/rest/api/2/myself',
  '/%53/x/%5f/rest/api/2/myself',
  '/s/x/_;a=b/rest/api/2/myself',
  '/s;a/x/_/rest/api/2/myself',
  '/s/x/_/;/rest/api/2/myself',
  '/s/x/_/rest;x/api/2/myself',
  '/s/x/_/..;/rest/api/2/myself',
  '/s/x/_/../_/rest/api/2/myself',
  '/rest/../s/x/_/rest/api/2/myself',
  '//s/x/_/rest/api/2/myself',
  '/s//_/rest/api/2/myself',
  '/s/x/_//rest/api/2/myself',
  '/s/x/_/%72est/api/2/myself',
  '/s/x/_/rest/api/2/serverInfo',
  '/s/x/_/rest/api/2/serverInfo/../myself',
  '/jira/s/x/_/rest/api/2/myself',
  '/jira/S/x/_/rest/api/2/myself',
  'http://jira.example/s/x/_/rest/api/2/myself',
  '/s/cfx/_/;/WEB-INF/web.xml',
];

describe('Jira /s/…/_/ rewrite: the attack table', () => {
  for (const p of spellings) {
    it(`anonymous ${p} is refused and never reaches Jira`, async () => {
      const r = await call(p, [from('10.1.1.1')]);
      expect(r.reached).toEqual([]);
      expect(['lockdown', 'path_invalid']).toContain(r.code);
    });
    it(`Basic from 192.168.1.1 on ${p} is refused and never reaches Jira`, async () => {
      const r = await call(p, [basic, from('192.168.1.1')]);
      expect(r.reached).toEqual([]);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(['credential_kind_denied', 'ip_not_allowed', 'path_invalid']).toContain(r.code);
    });
  }

  it('the plain /rest/ path refuses the same Basic request', async () => {
    const r = await call('/rest/api/2/user?username=admin', [basic, from('192.168.1.1')]);
    expect([r.status, r.reached.length]).toEqual([401, 0]);
  });
});

describe('Jira /s/…/_/ rewrite: valid callers and static resources', () => {
  it('a valid token from an allowed address reaches Jira through the rewrite, with the identity it was judged for', async () => {
    const token = issuer.sign({ aud: 'jira-sidecar', sub: 'id-alice', preferred_username: 'alice', groups: ['jira-users'] });
    const r = await call('/s/x/_/rest/api/2/myself', [['Authorization', `Bearer ${token}`], from('10.1.1.1')]);
    expect(r.status).toBe(200);
    expect(r.reached).toHaveLength(1);
    expect(r.reached[0]!.url).toBe('/s/x/_/rest/api/2/myself');
    expect(r.reached[0]!.headers['x-forwarded-user']).toBe('alice');
    expect(r.reached[0]!.headers.authorization).toBeUndefined();
  });

  it('the same token from outside the allow-list is refused at the rewritten path', async () => {
    const token = issuer.sign({ aud: 'jira-sidecar', sub: 'id-alice', preferred_username: 'alice', groups: ['jira-users'] });
    const r = await call('/s/x/_/rest/api/2/myself', [['Authorization', `Bearer ${token}`], from('192.168.1.1')]);
    expect([r.status, r.code, r.reached.length]).toEqual([403, 'ip_not_allowed', 0]);
  });

  it("Jira's own static resources still pass through anonymously", async () => {
    const p = '/s/d41d8cd98f00b204e9800998ecf8427e-CDN/-1hvpkk/820011/6411e0/_/download/contextbatch/css/_super/batch.css';
    const before = upstream.seen.length;
    const r = await rawRequest(sidecar.proxyUrl, { path: p, headers: [from('192.168.1.1')] });
    expect(r.status).toBe(200);
    expect(upstream.seen.slice(before).map((s) => s.url)).toEqual([p]);
  });
});
