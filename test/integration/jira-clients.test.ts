// Issue 26, part 4: real Jira client libraries against the sidecar. jira.js (`Version2Client`, an
// OAuth2 bearer = a JWT from the local test issuer) for an allowed call and each refusal kind (401
// bad token, 403 read_only, 429 a token-bucket burst): the error the library raises carries our
// message and code in Jira's errorMessages. The same with the Python `jira` package when a Python
// with it is on the machine (JAS_PYTHON_JIRA, or python3 that can import jira); otherwise skipped
// loudly with the command that enables it.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Version2Client } from 'jira.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { noteMissing } from '../helpers/missing.js';
import { startTestSidecar, tempDir, type TestSidecar } from '../helpers/sidecar.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;

const config = () => ({
  jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  access: { readOnlyGroups: ['readers'] },
  rateLimit: { algorithm: 'token-bucket', maxRequests: 3, fillRate: 1, intervalSec: 3600 },
});
const jwt = (user: string, groups = ['jira-users']) => issuer.sign({ aud: 'jira-sidecar', sub: `id-${user}`, preferred_username: user, groups, idtyp: 'user' });
/** The same JWT with its signature's bytes changed. */
const badSignature = (t: string) => {
  const [h, p, sig] = t.split('.') as [string, string, string];
  const b = Buffer.from(sig, 'base64url');
  b[0] = b[0]! ^ 0xff;
  return `${h}.${p}.${b.toString('base64url')}`;
};
const client = (accessToken: string) => new Version2Client({ host: sc.proxyUrl, authentication: { oauth2: { accessToken } } });

/** What jira.js raised: its HttpException (status, and the answer's body as `response.data`). */
async function failure(p: Promise<unknown>): Promise<{ status: number; data: { error: string; message: string; requestId: string; errorMessages: string[]; errors: object }; headers: Record<string, string> }> {
  const e = (await p.then(
    () => {
      throw new Error('expected jira.js to raise');
    },
    (x: unknown) => x,
  )) as { name: string; status: number; response: { data: any }; cause?: { response?: { headers?: Record<string, string> } } };
  expect(e.name).toBe('HttpException');
  return { status: e.status, data: e.response.data, headers: { ...(e.cause?.response?.headers ?? {}) } };
}

/** Our message and code, and the request id, in the one errorMessages string clients print. */
const carries = (data: { error: string; message: string; requestId: string; errorMessages: string[]; errors: object }, code: string) => {
  expect(data.error).toBe(code);
  expect(data.errorMessages).toEqual([`${data.message} (${code}, request ${data.requestId})`]);
  expect(data.errors).toEqual({});
};

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, config());
});
afterAll(async () => {
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

describe('jira.js Version2Client (OAuth2 bearer) through the sidecar', () => {
  it('an allowed call: getCurrentUser and getServerInfo answer as Jira', async () => {
    const c = client(jwt('js-alice'));
    const me = await c.myself.getCurrentUser();
    expect(me.name ?? me.displayName).toBeTruthy();
    const info = await c.serverInfo.getServerInfo();
    expect(info.version).toBe('9.12.0');
  });

  it('401: a bad token (a forged signature, an expired JWT); the HttpException carries our message and code', async () => {
    const forged = await failure(client(badSignature(jwt('js-alice'))).myself.getCurrentUser());
    expect(forged.status).toBe(401);
    expect(forged.data.error).toMatch(/^token_/);
    carries(forged.data, forged.data.error);
    const expired = await failure(client(issuer.sign({ aud: 'jira-sidecar', sub: 'id-js-old', preferred_username: 'js-old', idtyp: 'user', exp: Math.floor(Date.now() / 1000) - 3600 })).myself.getCurrentUser());
    expect(expired.status).toBe(401);
    carries(expired.data, expired.data.error);
    expect(expired.data.errorMessages[0]).toContain(expired.data.message);
  });

  it('403 read_only: a read-only user creating an issue', async () => {
    const { status, data } = await failure(client(jwt('js-reader', ['jira-users', 'readers'])).issues.createIssue({ fields: { summary: 'x', project: { key: 'DEMO' }, issuetype: { name: 'Task' } } }));
    expect(status).toBe(403);
    carries(data, 'read_only');
  });

  it('429 rate_limited: a burst over the token bucket, with Jira DC headers on the error', async () => {
    const c = client(jwt('js-burst'));
    for (let i = 0; i < 3; i++) await c.myself.getCurrentUser();
    const { status, data, headers } = await failure(c.myself.getCurrentUser());
    expect(status).toBe(429);
    carries(data, 'rate_limited');
    expect(headers['x-ratelimit-limit']).toBe('3');
    expect(headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(headers['retry-after'])).toBeGreaterThan(0);
  });
});

// ---- Python `jira` -------------------------------------------------------------------------------
const PY_ENABLE = 'python3 -m venv /tmp/jas-pyjira && /tmp/jas-pyjira/bin/pip install jira && JAS_PYTHON_JIRA=/tmp/jas-pyjira/bin/python npm test';
const pythonWithJira = ((): string | undefined => {
  for (const py of [process.env.JAS_PYTHON_JIRA, 'python3'].filter((x): x is string => !!x)) {
    const r = spawnSync(py, ['-c', 'import jira'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0) return py;
  }
  return undefined;
})();
if (!pythonWithJira) noteMissing('python jira package', 'jira-clients.test.ts (Python jira client)', PY_ENABLE);

// One call per line of output: {"call", "ok"} or {"call", "status", "text"} (JIRAError).
const PY_SCRIPT = `
import json, sys
from jira import JIRA, JIRAError
server, calls = sys.argv[1], json.loads(sys.argv[2])
for name, token, what in calls:
    j = JIRA(server=server, token_auth=token, get_server_info=False, max_retries=0)
    try:
        if what == 'myself':
            j.myself()
        else:
            j.create_issue(fields={'project': {'key': 'DEMO'}, 'summary': 'x', 'issuetype': {'name': 'Task'}})
        print(json.dumps({'call': name, 'ok': True}))
    except JIRAError as e:
        print(json.dumps({'call': name, 'status': e.status_code, 'text': e.text}))
`;

describe.skipIf(!pythonWithJira)('Python jira (JIRA with token_auth) through the sidecar', () => {
  it('allowed, 401, 403 read_only and 429 rate_limited; JIRAError.text is our errorMessages', () => {
    const file = path.join(tempDir('pyjira-'), 'drive.py');
    writeFileSync(file, PY_SCRIPT);
    const burst = jwt('py-burst');
    const calls = [
      ['allowed', jwt('py-alice'), 'myself'],
      ['bad-token', badSignature(jwt('py-alice')), 'myself'],
      ['read-only', jwt('py-reader', ['jira-users', 'readers']), 'create'],
      ['burst-1', burst, 'myself'],
      ['burst-2', burst, 'myself'],
      ['burst-3', burst, 'myself'],
      ['burst-4', burst, 'myself'],
    ];
    const r = spawnSync(pythonWithJira!, [file, sc.proxyUrl, JSON.stringify(calls)], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { call: string; ok?: boolean; status?: number; text?: string })
        .map((o) => [o.call, o]),
    );
    expect(out.allowed).toMatchObject({ ok: true });
    expect(out['bad-token']).toMatchObject({ status: 401 });
    expect(out['read-only']).toMatchObject({ status: 403 });
    expect(out['read-only']!.text).toContain('(read_only, request ');
    expect(out['burst-3']).toMatchObject({ ok: true });
    expect(out['burst-4']).toMatchObject({ status: 429 });
    expect(out['burst-4']!.text).toContain('(rate_limited, request ');
  });
});
