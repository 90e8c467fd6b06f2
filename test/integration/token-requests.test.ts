// API-token requests and approval (issue 19) end to end: users ask on /_sidecar/tokens with their
// JWT (from the local test issuer) through the real proxy, admins decide on the admin API, the owner
// claims the approved token once and uses it on the proxy in front of the Jira-like upstream. Modes
// (apiTokens.approval none | required | write, approvalExemptGroups) are switched with PUT /api/config.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import type { AdminAuditEntry, TokenRequestView } from '../../src/admin/wire.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;
let admin: AdminClient;
/** Every secret used here (API tokens, JWTs): none may appear in an admin-activity row or a request view. */
const secrets: string[] = [];

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    apiTokens: { creatorGroups: ['jira-developers'] },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
  admin = new AdminClient(sc.adminUrl);
  expect((await admin.login()).status).toBe(200);
});

afterAll(async () => {
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

async function call(method: string, p: string, auth?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(sc.proxyUrl + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

const jwtFor = (username: string, groups: string[]) => {
  const t = `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: `id-${username}`, preferred_username: username, groups })}`;
  secrets.push(t);
  return t;
};

async function setApproval(approval: 'none' | 'required' | 'write', approvalExemptGroups: string[] = []) {
  const r = await admin.editConfig((c) => Object.assign(c.apiTokens, { approval, approvalExemptGroups }));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

const pending = async () => (await admin.get<{ requests: TokenRequestView[] }>('/api/token-requests?status=pending')).body.requests;

/** A token request made by `who`, answered 202. */
async function ask(who: string, body: Record<string, unknown>): Promise<TokenRequestView> {
  const r = await call('POST', '/_sidecar/tokens', who, body);
  expect(r.status, r.text).toBe(202);
  return r.json as TokenRequestView;
}

let alice: string;
let carol: string;
beforeAll(() => {
  alice = jwtFor('alice', ['jira-users', 'jira-developers']);
  carol = jwtFor('carol', ['jira-developers']);
});

describe("apiTokens.approval 'none' (the default)", () => {
  it('a creator mints directly: 201 with the secret, nothing pending', async () => {
    const r = await call('POST', '/_sidecar/tokens', alice, { name: 'direct', justification: 'ignored here' });
    expect(r.status).toBe(201);
    expect(r.json.token).toMatch(/^jas_/);
    secrets.push(r.json.token);
    expect(await pending()).toEqual([]);
    expect((await call('GET', '/_sidecar/tokens/requests', alice)).json).toEqual({ requests: [] });
  });
});

describe("apiTokens.approval 'required'", () => {
  let req: TokenRequestView;
  let secret: string;
  beforeAll(() => setApproval('required'));

  it('without a justification: 400 naming the field, nothing stored', async () => {
    const r = await call('POST', '/_sidecar/tokens', alice, { name: 'ci' });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('bad_request');
    expect(r.json.issues).toEqual([{ path: 'justification', message: 'is required' }]);
    expect(await pending()).toEqual([]);
  });

  it('a bad scope is refused when asked, not when approved', async () => {
    const r = await call('POST', '/_sidecar/tokens', alice, { name: 'ci', paths: ['no-slash'], justification: 'x' });
    expect(r.status).toBe(400);
    expect(r.json.issues[0].path).toBe('paths');
  });

  it('POST /_sidecar/tokens answers 202 with a pending request and no secret', async () => {
    const r = await call('POST', '/_sidecar/tokens', alice, { name: 'nightly sync', access: 'write', paths: ['/rest/api/2/*'], days: 30, justification: 'syncs issues to our dashboard' });
    expect(r.status).toBe(202);
    expect(r.headers.get('cache-control')).toBe('no-store');
    req = r.json;
    expect(req).toMatchObject({
      owner: 'alice',
      name: 'nightly sync',
      access: 'write',
      paths: ['/rest/api/2/*'],
      ipAllowlist: [],
      days: 30,
      justification: 'syncs issues to our dashboard',
      groups: ['jira-users', 'jira-developers'],
      status: 'pending',
      decidedAt: null,
      decidedBy: null,
      comment: null,
      tokenId: null,
    });
    expect(req.id).toMatch(/^req_[A-Za-z0-9_-]{16}$/);
    expect(r.headers.get('location')).toBe(`/_sidecar/tokens/requests/${req.id}`);
    expect(r.json).not.toHaveProperty('token');
    // No token exists yet.
    expect((await call('GET', '/_sidecar/tokens', alice)).json.tokens.map((t: { name: string }) => t.name)).not.toContain('nightly sync');
  });

  it('the requester lists their requests; admins see it pending with the justification', async () => {
    const mine = await call('GET', '/_sidecar/tokens/requests', alice);
    expect(mine.status).toBe(200);
    expect(mine.json.requests.map((r: TokenRequestView) => r.id)).toEqual([req.id]);
    expect((await call('GET', `/_sidecar/tokens/requests/${req.id}`, alice)).json).toEqual(req);
    expect(await pending()).toEqual([req]);
    expect((await admin.get('/api/token-requests?status=bogus')).status).toBe(400);
  });

  it('claiming before an approval is 404', async () => {
    const r = await call('POST', `/_sidecar/tokens/requests/${req.id}/claim`, alice);
    expect(r.status).toBe(404);
    expect(r.json.error).toBe('not_found');
  });

  it('an admin approves with a comment; deciding again is 404 and changes nothing', async () => {
    const r = await admin.call('POST', `/api/token-requests/${req.id}/approve`, { comment: 'ok, renew in 30 days' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ id: req.id, status: 'approved', decidedBy: 'admin', comment: 'ok, renew in 30 days', tokenId: null });
    expect((await admin.call('POST', `/api/token-requests/${req.id}/approve`, {})).status).toBe(404);
    expect((await admin.call('POST', `/api/token-requests/${req.id}/deny`, { comment: 'changed my mind' })).status).toBe(404);
    expect(await pending()).toEqual([]);
    expect((await call('GET', `/_sidecar/tokens/requests/${req.id}`, alice)).json).toMatchObject({ status: 'approved', comment: 'ok, renew in 30 days' });
    expect((await admin.call('POST', '/api/token-requests/req_nope/approve', {})).status).toBe(404);
  });

  it('the owner claims it: 201 and the secret once; the token works on the proxy as alice', async () => {
    const r = await call('POST', `/_sidecar/tokens/requests/${req.id}/claim`, alice);
    expect(r.status, r.text).toBe(201);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.json).toMatchObject({ owner: 'alice', name: 'nightly sync', access: 'write', paths: ['/rest/api/2/*'], groups: ['jira-users', 'jira-developers'], status: 'active', createdBy: 'self-service:alice' });
    expect(r.json.request).toMatchObject({ id: req.id, status: 'issued', tokenId: r.json.id });
    expect((Date.parse(r.json.expiresAt) - Date.parse(r.json.createdAt)) / 86_400_000).toBe(30);
    secret = r.json.token;
    expect(secret).toMatch(/^jas_/);
    secrets.push(secret);

    const before = upstream.seen.length;
    const used = await call('GET', '/rest/api/2/myself', `Bearer ${secret}`);
    expect(used.status).toBe(200);
    expect(upstream.seen.length).toBe(before + 1);
    expect(upstream.seen.at(-1)!.headers['x-forwarded-user']).toBe('alice');
    // The paths asked for are the token's scope.
    expect((await call('GET', '/rest/api/3/myself', `Bearer ${secret}`)).json.error).toBe('token_scope');
  });

  it('a second claim is 404, and no view shows the secret again', async () => {
    const again = await call('POST', `/_sidecar/tokens/requests/${req.id}/claim`, alice);
    expect(again.status).toBe(404);
    expect(again.json.error).toBe('not_found');
    expect(again.text).not.toContain(secret);
    const view = await call('GET', `/_sidecar/tokens/requests/${req.id}`, alice);
    expect(view.json).toMatchObject({ status: 'issued' });
    for (const t of [view.text, (await call('GET', '/_sidecar/tokens/requests', alice)).text, JSON.stringify((await admin.get('/api/token-requests')).body)]) expect(t).not.toContain(secret);
    // Exactly one token came of it.
    expect((await call('GET', '/_sidecar/tokens', alice)).json.tokens.filter((t: { name: string }) => t.name === 'nightly sync')).toHaveLength(1);
  });

  it('two claims at once: one 201 with a secret, one 404, and one live token', async () => {
    const r = await ask(alice, { name: 'raced', justification: 'race' });
    expect((await admin.call('POST', `/api/token-requests/${r.id}/approve`, {})).status).toBe(200);
    const both = await Promise.all([1, 2].map(() => call('POST', `/_sidecar/tokens/requests/${r.id}/claim`, alice)));
    expect(both.map((b) => b.status).sort()).toEqual([201, 404]);
    secrets.push(both.find((b) => b.status === 201)!.json.token);
    const live = (await call('GET', '/_sidecar/tokens', alice)).json.tokens.filter((t: { name: string; status: string }) => t.name === 'raced' && t.status === 'active');
    expect(live).toHaveLength(1);
  });

  it('the claimed token carries only the groups the owner still has', async () => {
    const r = await ask(alice, { name: 'fewer groups', access: 'read', justification: 'reports' });
    await admin.call('POST', `/api/token-requests/${r.id}/approve`, {});
    const claimed = await call('POST', `/_sidecar/tokens/requests/${r.id}/claim`, jwtFor('alice', ['jira-developers', 'jira-admins']));
    expect(claimed.status).toBe(201);
    secrets.push(claimed.json.token);
    expect(claimed.json.groups).toEqual(['jira-developers']);
  });

  it('denied with a reason the requester sees; a denial needs a comment', async () => {
    const r = await ask(carol, { name: 'admin scripts', justification: 'bulk edits' });
    const bare = await admin.call('POST', `/api/token-requests/${r.id}/deny`, {});
    expect(bare.status).toBe(400);
    expect(bare.body.issues).toEqual([{ path: 'comment', message: 'is required to deny (the requester sees it)' }]);
    expect((await admin.call('POST', `/api/token-requests/${r.id}/deny`, { comment: '   ' })).status).toBe(400);
    expect((await pending()).map((p) => p.id)).toEqual([r.id]);
    const denied = await admin.call('POST', `/api/token-requests/${r.id}/deny`, { comment: 'use a read-only token for reports' });
    expect(denied.status).toBe(200);
    const seen = await call('GET', `/_sidecar/tokens/requests/${r.id}`, carol);
    expect(seen.json).toMatchObject({ status: 'denied', comment: 'use a read-only token for reports', decidedBy: 'admin' });
    expect((await call('GET', '/_sidecar/tokens/requests', carol)).json.requests[0]).toMatchObject({ id: r.id, status: 'denied', comment: 'use a read-only token for reports' });
    expect((await call('POST', `/_sidecar/tokens/requests/${r.id}/claim`, carol)).status).toBe(404);
    expect((await call('DELETE', `/_sidecar/tokens/requests/${r.id}`, carol)).status).toBe(404);
  });

  it('the owner withdraws a pending request; it can then be neither approved nor withdrawn again', async () => {
    const r = await ask(alice, { name: 'not needed', justification: 'maybe' });
    const w = await call('DELETE', `/_sidecar/tokens/requests/${r.id}`, alice);
    expect(w.status).toBe(200);
    expect(w.json).toMatchObject({ id: r.id, status: 'withdrawn', decidedBy: 'alice' });
    expect((await pending()).map((p) => p.id)).not.toContain(r.id);
    expect((await admin.call('POST', `/api/token-requests/${r.id}/approve`, {})).status).toBe(404);
    expect((await call('DELETE', `/_sidecar/tokens/requests/${r.id}`, alice)).status).toBe(404);
  });

  it("another user's request id answers like an unknown one", async () => {
    const r = await ask(alice, { name: 'mine', justification: 'mine' });
    await admin.call('POST', `/api/token-requests/${r.id}/approve`, {});
    const unknown = await call('GET', '/_sidecar/tokens/requests/req_AAAAAAAAAAAAAAAA', carol);
    expect(unknown.status).toBe(404);
    for (const [method, p] of [
      ['GET', `/_sidecar/tokens/requests/${r.id}`],
      ['DELETE', `/_sidecar/tokens/requests/${r.id}`],
      ['POST', `/_sidecar/tokens/requests/${r.id}/claim`],
    ] as const) {
      const res = await call(method, p, carol);
      expect(res.status, `${method} ${p}`).toBe(404);
      expect(res.json.error).toBe('not_found');
      expect(res.json.message).toBe(unknown.json.message);
    }
    expect((await call('GET', '/_sidecar/tokens/requests', carol)).json.requests.map((x: TokenRequestView) => x.id)).not.toContain(r.id);
    // Still alice's to claim.
    const claimed = await call('POST', `/_sidecar/tokens/requests/${r.id}/claim`, alice);
    expect(claimed.status).toBe(201);
    secrets.push(claimed.json.token);
  });

  it('an API token cannot ask for, list or claim requests; a caller outside creatorGroups cannot either', async () => {
    const tok = `Bearer ${secrets.find((s) => s.startsWith('jas_'))}`;
    for (const [method, p] of [
      ['POST', '/_sidecar/tokens'],
      ['GET', '/_sidecar/tokens/requests'],
    ] as const) {
      expect((await call(method, p, tok, method === 'POST' ? { name: 'x', justification: 'y' } : undefined)).status).toBe(403);
      expect((await call(method, p, jwtFor('bob', ['jira-users']), method === 'POST' ? { name: 'x', justification: 'y' } : undefined)).json.error).toBe('forbidden');
    }
    const wrongMethod = await call('PUT', '/_sidecar/tokens/requests', alice);
    expect(wrongMethod.status).toBe(400);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect((await call('POST', '/_sidecar/tokens/requests/req_x/other', alice)).status).toBe(404);
  });
});

describe("apiTokens.approval 'write'", () => {
  beforeAll(() => setApproval('write'));

  it('a read-only token is minted directly; a read-write one waits for approval', async () => {
    const read = await call('POST', '/_sidecar/tokens', carol, { name: 'reports', readOnly: true });
    expect(read.status).toBe(201);
    secrets.push(read.json.token);
    expect(read.json.access).toBe('read');
    const write = await call('POST', '/_sidecar/tokens', carol, { name: 'writer', justification: 'creates issues from alerts' });
    expect(write.status).toBe(202);
    expect(write.json).toMatchObject({ access: 'write', status: 'pending' });
  });
});

describe('apiTokens.approvalExemptGroups', () => {
  beforeAll(() => setApproval('required', ['jira-leads']));

  it('members of an exempt group mint directly; others still ask', async () => {
    const lead = await call('POST', '/_sidecar/tokens', jwtFor('dave', ['jira-developers', 'jira-leads']), { name: 'lead token' });
    expect(lead.status).toBe(201);
    secrets.push(lead.json.token);
    expect((await call('POST', '/_sidecar/tokens', carol, { name: 'still asks', justification: 'j' })).status).toBe(202);
  });
});

describe('admin activity', () => {
  let rows: AdminAuditEntry[];
  beforeAll(async () => {
    rows = (await admin.get<{ items: AdminAuditEntry[] }>('/api/admin-activity?limit=500')).body.items.filter((r) => r.action.startsWith('token_request.'));
  });

  it('records every step: requested, approved, denied, claimed, withdrawn, with its actor', async () => {
    const has = (actor: string, action: string) => rows.some((r) => r.actor === actor && r.action === action);
    expect(has('self-service:alice', 'token_request.create')).toBe(true);
    expect(has('self-service:carol', 'token_request.create')).toBe(true);
    expect(has('admin', 'token_request.approve')).toBe(true);
    expect(has('admin', 'token_request.deny')).toBe(true);
    expect(has('self-service:alice', 'token_request.claim')).toBe(true);
    expect(has('self-service:alice', 'token_request.withdraw')).toBe(true);
    const deny = rows.find((r) => r.action === 'token_request.deny')!;
    expect(deny.after).toMatchObject({ owner: 'carol', name: 'admin scripts', status: 'denied', comment: 'use a read-only token for reports', justification: 'bulk edits' });
    const claim = rows.find((r) => r.action === 'token_request.claim' && (r.after as { name: string }).name === 'nightly sync')!;
    expect(claim.after).toMatchObject({ owner: 'alice', approvedBy: 'admin' });
    expect((claim.after as { newId: string }).newId).toMatch(/^tok_/);
    expect(claim.target).toMatch(/^req_/);
  });

  it('never holds a secret (API tokens, JWTs)', () => {
    const text = JSON.stringify(rows);
    for (const s of secrets) expect(text).not.toContain(s.replace(/^Bearer /, '').slice(-30));
    expect(text).not.toMatch(/jas_[A-Za-z0-9]{20}/);
  });
});
