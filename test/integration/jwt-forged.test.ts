// JWT path end to end: a real issuer (JWKS over HTTP), the sidecar, and the Jira-like upstream.
// Every forged or malformed credential is refused with its status + code and never reaches Jira.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { generateApiToken } from '../../src/api-tokens/format.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { rawRequest, type RawResponse } from '../helpers/http.js';
import {
  b64u,
  certDerB64,
  hmacWithPublicKey,
  makeKey,
  nowSec,
  selfSignedCert,
  signRaw,
  startTestIssuer,
  unsecuredJwt,
  type IssuerKey,
  type TokenIssuer,
} from '../helpers/issuer.js';

const AUD = 'api://jira-sidecar';
let upstream: JiraUpstream;
let idp: TokenIssuer;
let attacker: TokenIssuer;
let sidecar: TestSidecar;
let attackerKey: IssuerKey;
let attackerCert: string;

const claims = (over: Record<string, unknown> = {}) => ({ iss: idp.url, aud: AUD, sub: 'u-1', preferred_username: 'alice@example.com', exp: nowSec() + 600, iat: nowSec(), ...over });
const bearer = (t: string): Array<[string, string]> => [['Authorization', `Bearer ${t}`]];
const get = (headers: Array<[string, string]>, path = '/rest/test/echo') => rawRequest(sidecar.proxyUrl, { path, headers });
const bodyOf = (r: RawResponse) => JSON.parse(r.body.toString()) as Record<string, any>;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  idp = await startTestIssuer();
  attacker = await startTestIssuer();
  attackerKey = attacker.current;
  attackerCert = selfSignedCert(attackerKey.privateKey, 'attacker');
  sidecar = await startTestSidecar(upstream.url, {
    server: { maxHeaderBytes: 256 * 1024 },
    upstream: { sharedSecret: 'upstream-secret' },
    jwt: {
      issuers: [
        {
          name: 'test-idp',
          issuer: idp.url,
          audiences: [AUD],
          keys: { jwksUri: idp.jwksUrl },
          keyCache: { maxAgeSec: 600, cooldownSec: 0, timeoutMs: 1000 },
          clockToleranceSec: 60,
          usernameClaim: ['preferred_username', 'upn'],
          usernameRegex: '^([^@]+)@',
        },
      ],
    },
  });
});

afterAll(async () => {
  await sidecar?.close();
  await Promise.all([upstream?.close(), idp?.close(), attacker?.close()]);
});

describe('valid JWT', () => {
  it('is forwarded with the identity header; Authorization, session cookies and spoofed identity are removed', async () => {
    const r = await get([
      ['Authorization', `Bearer ${idp.sign(claims())}`],
      ['Cookie', 'JSESSIONID=victim; theme=dark; seraph.rememberme.cookie=1%3Ax'],
      ['X-Forwarded-User', 'admin'],
      ['x_forwarded_user', 'admin'],
      ['X-Sidecar-Secret', 'guess'],
    ]);
    expect(r.status).toBe(200);
    const seen = bodyOf(r);
    expect(seen.headers['x-forwarded-user']).toBe('alice');
    expect(seen.headers['x-sidecar-secret']).toBe('upstream-secret');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers.cookie).toBe('theme=dark');
    expect((seen.rawHeaders as string[]).filter((h) => /^x[-_]forwarded[-_]user$/i.test(h))).toHaveLength(1);
  });

  it('accepts lower-case "bearer" (RFC 7235 scheme names are case-insensitive)', async () => {
    const r = await get([['authorization', `bearer ${idp.sign(claims())}`]]);
    expect(r.status).toBe(200);
    expect(bodyOf(r).headers['x-forwarded-user']).toBe('alice');
  });
});

describe('passthrough kinds reach Jira unchanged', () => {
  const pat = Buffer.concat([Buffer.from('634349021388:'), Buffer.alloc(20, 0x9b)]).toString('base64');
  const oauth = 'OAuth oauth_consumer_key="jira-app", oauth_token="t", oauth_signature_method="RSA-SHA1", oauth_signature="c2ln", oauth_timestamp="1", oauth_nonce="n", oauth_version="1.0"';
  it.each([
    ['Jira PAT', [['Authorization', `Bearer ${pat}`]]],
    ['OAuth 1.0a', [['Authorization', oauth]]],
    ['Jira OAuth 2.0 / opaque bearer', [['Authorization', 'Bearer 0a1b2c3d4e5f60718293a4b5c6d7e8f9']]],
    ['Jira session cookie', [['Cookie', 'JSESSIONID=ABCDEF; atlassian.xsrf.token=x']]],
    ['anonymous', []],
  ] as Array<[string, Array<[string, string]>]>)('%s', async (_n, headers) => {
    const r = await get([...headers, ['X-Forwarded-User', 'admin']]);
    expect(r.status).toBe(200);
    const seen = bodyOf(r);
    for (const [k, v] of headers) expect(seen.headers[k.toLowerCase()]).toBe(v);
    expect(seen.headers['x-forwarded-user']).toBeUndefined();
    expect(seen.headers['x-sidecar-secret']).toBeUndefined();
  });
});

describe('forged and malformed credentials', () => {
  type Row = { name: string; headers: () => Array<[string, string]>; path?: string | (() => string); status: number; code: string };
  const unpublished = makeKey('not-published');
  const rows: Row[] = [
    { name: 'alg none', headers: () => bearer(unsecuredJwt(claims())), status: 401, code: 'token_invalid' },
    { name: 'alg "None"', headers: () => bearer(unsecuredJwt(claims(), 'None')), status: 401, code: 'token_invalid' },
    { name: 'alg none with a signature appended', headers: () => bearer(unsecuredJwt(claims()) + 'c2ln'), status: 401, code: 'token_invalid' },
    { name: 'HS256 keyed with the RSA public key', headers: () => bearer(hmacWithPublicKey(claims(), idp.current.publicKeyPem, idp.current.kid)), status: 401, code: 'token_invalid' },
    { name: 'HS512 keyed with the RSA public key', headers: () => bearer(hmacWithPublicKey(claims(), idp.current.publicKeyPem, idp.current.kid, 'HS512')), status: 401, code: 'token_invalid' },
    { name: 'HS256 keyed with the JWK modulus', headers: () => bearer(hmacWithPublicKey(claims(), String(idp.current.publicJwk.n), idp.current.kid)), status: 401, code: 'token_invalid' },
    { name: 'unknown kid', headers: () => bearer(idp.sign(claims(), { key: unpublished })), status: 401, code: 'token_invalid' },
    { name: 'kid with path characters', headers: () => bearer(idp.sign(claims(), { key: unpublished, header: { kid: '../../../../../../dev/null' } })), status: 401, code: 'token_invalid' },
    { name: 'kid with SQL', headers: () => bearer(idp.sign(claims(), { key: unpublished, header: { kid: "x' UNION SELECT 'secret" } })), status: 401, code: 'token_invalid' },
    { name: 'published kid, signed by another key', headers: () => bearer(idp.sign(claims(), { key: unpublished, header: { kid: idp.current.kid } })), status: 401, code: 'token_invalid' },
    { name: 'no kid, signed by another key', headers: () => bearer(signRaw({ alg: 'RS256' }, claims(), unpublished.privateKey)), status: 401, code: 'token_invalid' },
    { name: 'jku to the attacker JWKS', headers: () => bearer(idp.sign(claims(), { key: attackerKey, header: { jku: attacker.jwksUrl } })), status: 401, code: 'token_invalid' },
    { name: 'x5u to the attacker', headers: () => bearer(idp.sign(claims(), { key: attackerKey, header: { x5u: `${attacker.url}/cert.pem` } })), status: 401, code: 'token_invalid' },
    { name: 'embedded jwk of the attacker', headers: () => bearer(idp.sign(claims(), { key: attackerKey, header: { jwk: attackerKey.publicJwk } })), status: 401, code: 'token_invalid' },
    { name: 'embedded x5c of the attacker', headers: () => bearer(idp.sign(claims(), { key: attackerKey, header: { x5c: [certDerB64(attackerCert)] } })), status: 401, code: 'token_invalid' },
    { name: 'jwk header without kid', headers: () => bearer(signRaw({ alg: 'RS256', jwk: attackerKey.publicJwk }, claims(), attackerKey.privateKey)), status: 401, code: 'token_invalid' },
    { name: 'expired', headers: () => bearer(idp.sign(claims({ exp: nowSec() - 3600 }))), status: 401, code: 'token_expired' },
    { name: 'expired beyond the clock tolerance', headers: () => bearer(idp.sign(claims({ exp: nowSec() - 120 }))), status: 401, code: 'token_expired' },
    { name: 'nbf in the future', headers: () => bearer(idp.sign(claims({ nbf: nowSec() + 3600 }))), status: 401, code: 'token_invalid' },
    { name: 'exp not a number', headers: () => bearer(idp.sign(claims({ exp: 'tomorrow' }))), status: 401, code: 'token_invalid' },
    { name: 'missing exp', headers: () => bearer(idp.sign(claims({ exp: undefined }), { noExp: true })), status: 401, code: 'token_invalid' },
    { name: 'wrong iss', headers: () => bearer(idp.sign(claims({ iss: 'https://evil.example/' }))), status: 401, code: 'issuer_unknown' },
    { name: 'iss with a trailing slash added', headers: () => bearer(idp.sign(claims({ iss: `${idp.url}/` }))), status: 401, code: 'issuer_unknown' },
    { name: 'missing iss', headers: () => bearer(idp.sign(claims({ iss: undefined }))), status: 401, code: 'issuer_unknown' },
    { name: 'iss as an array', headers: () => bearer(idp.sign(claims({ iss: [idp.url] }))), status: 401, code: 'issuer_unknown' },
    { name: 'our iss, signed by the attacker', headers: () => bearer(attacker.sign(claims())), status: 401, code: 'token_invalid' },
    { name: 'wrong aud', headers: () => bearer(idp.sign(claims({ aud: 'api://other' }))), status: 401, code: 'token_invalid' },
    { name: 'aud list without ours', headers: () => bearer(idp.sign(claims({ aud: ['api://a', 'api://b'] }))), status: 401, code: 'token_invalid' },
    { name: 'missing aud', headers: () => bearer(idp.sign(claims({ aud: undefined }))), status: 401, code: 'token_invalid' },
    { name: 'crit header', headers: () => bearer(idp.sign(claims(), { header: { crit: ['exp'] } })), status: 401, code: 'token_invalid' },
    { name: 'b64:false (RFC 7797) with crit', headers: () => bearer(idp.sign(claims(), { header: { b64: false, crit: ['b64'] } })), status: 401, code: 'token_invalid' },
    { name: 'RS512 not in the allow-list', headers: () => bearer(idp.sign(claims(), { header: { alg: 'RS512' } })), status: 401, code: 'token_invalid' },
    { name: 'ES256 header on an RSA signature', headers: () => bearer(idp.sign(claims(), { header: { alg: 'ES256' } })), status: 401, code: 'token_invalid' },
    { name: 'payload tampered after signing', headers: () => { const [h, , s] = idp.sign(claims()).split('.'); return bearer(`${h}.${b64u(claims({ preferred_username: 'admin@example.com' }))}.${s}`); }, status: 401, code: 'token_invalid' },
    { name: 'claims of one valid token, signature of another', headers: () => { const [h, p] = idp.sign(claims()).split('.'); const [, , sig] = idp.sign(claims({ preferred_username: 'admin@example.com' })).split('.'); return bearer(`${h}.${p}.${sig}`); }, status: 401, code: 'token_invalid' },
    { name: 'iat not a number', headers: () => bearer(idp.sign(claims({ iat: 'now' }))), status: 401, code: 'token_invalid' },
    // The synchronous signature check (jwt/signature.ts) is what refuses these; jose judges only the claims of what it verified.
    { name: 'random signature of the right length', headers: () => { const [h, p] = idp.sign(claims()).split('.'); return bearer(`${h}.${p}.${randomBytes(256).toString('base64url')}`); }, status: 401, code: 'token_invalid' },
    { name: 'signature one byte short', headers: () => { const [h, p, sig] = idp.sign(claims()).split('.'); return bearer(`${h}.${p}.${Buffer.from(sig!, 'base64url').subarray(1).toString('base64url')}`); }, status: 401, code: 'token_invalid' },
    { name: 'signature stripped', headers: () => bearer(idp.sign(claims()).split('.').slice(0, 2).join('.') + '.'), status: 401, code: 'token_invalid' },
    { name: 'payload not JSON', headers: () => bearer(signRaw({ alg: 'RS256', kid: idp.current.kid }, 'not json', idp.current.privateKey)), status: 401, code: 'token_invalid' },
    { name: 'JWE (five segments)', headers: () => bearer(`${b64u({ alg: 'RSA-OAEP-256', enc: 'A256GCM' })}.AAAA.BBBB.CCCC.DDDD`), status: 401, code: 'credential_malformed' },
    { name: '64 KB token', headers: () => bearer(idp.sign(claims({ pad: 'x'.repeat(64 * 1024) }))), status: 401, code: 'credential_malformed' },
    { name: 'non-base64url characters', headers: () => bearer(idp.sign(claims()).replace(/\.(.)/, '.$1*')), status: 401, code: 'credential_malformed' },
    { name: 'quote characters in the token', headers: () => bearer(`"${idp.sign(claims())}"`), status: 401, code: 'credential_malformed' },
    // b64token characters that base64url does not have: a valid b64token, not a compact JWS.
    { name: 'standard base64 (+ /) in the signature', headers: () => { const [h, p, sig] = idp.sign(claims()).split('.'); return bearer(`${h}.${p}.+/${sig}`); }, status: 401, code: 'credential_malformed' },
    { name: '"=" padding inside the token', headers: () => { const [h, p, sig] = idp.sign(claims()).split('.'); return bearer(`${h}.${p}==.${sig}`); }, status: 401, code: 'credential_malformed' },
    { name: 'empty Bearer value', headers: () => [['Authorization', 'Bearer ']], status: 401, code: 'credential_malformed' },
    { name: 'Bearer without a value', headers: () => [['Authorization', 'Bearer']], status: 401, code: 'credential_malformed' },
    { name: 'two tokens in one header', headers: () => [['Authorization', `Bearer ${idp.sign(claims())}, Bearer ${idp.sign(claims())}`]], status: 401, code: 'credential_malformed' },
    { name: 'two Authorization headers', headers: () => [['Authorization', `Bearer ${idp.sign(claims())}`], ['Authorization', `Bearer ${idp.sign(claims())}`]], status: 401, code: 'credential_malformed' },
    { name: 'two Authorization headers, different spelling', headers: () => [['authorization', `Bearer ${idp.sign(claims())}`], ['AUTHORIZATION', 'Basic YWRtaW46YWRtaW4=']], status: 401, code: 'credential_malformed' },
    { name: 'Basic when basic is denied', headers: () => [['Authorization', `Basic ${Buffer.from('admin:admin').toString('base64')}`]], status: 401, code: 'credential_kind_denied' },
    { name: 'os_username/os_password when basic is denied', headers: () => [], path: '/rest/test/echo?os_username=admin&os_password=admin', status: 401, code: 'credential_kind_denied' },
    { name: 'valid token in the query string', headers: () => [], path: () => `/rest/test/echo?access_token=${idp.sign(claims())}`, status: 401, code: 'credential_kind_denied' },
    { name: 'token in the query next to a header', headers: () => bearer(idp.sign(claims())), path: '/rest/test/echo?access%5Ftoken=x', status: 401, code: 'credential_kind_denied' },
    { name: 'API token with a wrong checksum', headers: () => { const t = generateApiToken('jas_'); return bearer(t.slice(0, -1) + (t.endsWith('a') ? 'b' : 'a')); }, status: 401, code: 'token_invalid' },
    { name: 'API token prefix, wrong length', headers: () => bearer('jas_abc'), status: 401, code: 'token_invalid' },
    { name: 'API token with a valid checksum that was never issued', headers: () => bearer(generateApiToken('jas_')), status: 401, code: 'token_invalid' },
    { name: 'revoked API token', headers: () => bearer(apiTokens.revoked), status: 401, code: 'token_revoked' },
    { name: 'expired API token', headers: () => bearer(apiTokens.expired), status: 401, code: 'token_expired' },
    { name: 'unsupported scheme', headers: () => [['Authorization', 'Digest username="admin", response="x"']], status: 401, code: 'credential_kind_denied' },
    { name: 'no username claim', headers: () => bearer(idp.sign(claims({ preferred_username: undefined }))), status: 401, code: 'username_missing' },
    { name: 'username does not match usernameRegex', headers: () => bearer(idp.sign(claims({ preferred_username: 'alice' }))), status: 401, code: 'username_missing' },
    { name: 'CR/LF in the username (header injection)', headers: () => bearer(idp.sign(claims({ preferred_username: 'alice\r\nX-Forwarded-User: admin@x' }))), status: 401, code: 'username_missing' },
    { name: 'app-only token without a client ACL', headers: () => bearer(idp.sign(claims({ idtyp: 'app', azp: 'some-app', preferred_username: undefined }))), status: 403, code: 'client_not_allowed' },
  ];

  const apiTokens = { revoked: '', expired: '' };
  beforeAll(async () => {
    const store = sidecar.runtime.deps.services.apiTokens!;
    const settings = { prefix: 'jas_', maxLifetimeDays: 90 };
    const revoked = await store.create({ owner: 'alice', name: 'forged-table-revoked', createdBy: 'cli' }, settings);
    await store.revoke(revoked.id);
    apiTokens.revoked = revoked.token;
    // A lifetime of ~50 ms: expired by the time the row runs (no timing is asserted).
    apiTokens.expired = (await store.create({ owner: 'alice', name: 'forged-table-expired', days: 50 / 86_400_000, createdBy: 'cli' }, settings)).token;
    await new Promise((r) => setTimeout(r, 100));
  });

  it('has at least 40 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
  });

  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const before = upstream.seen.length;
    const r = await get(row.headers(), typeof row.path === 'function' ? row.path() : row.path);
    expect({ status: r.status, code: bodyOf(r).error }).toEqual({ status: row.status, code: row.code });
    if (row.status === 401) expect(String(r.headers['www-authenticate'])).toMatch(/^Bearer /);
    expect(bodyOf(r).requestId).toBeTruthy();
    expect(upstream.seen.length).toBe(before);
  });

  it('never fetched anything the token pointed at (jku / x5u)', () => {
    expect(attacker.jwksFetches).toBe(0);
  });
});

describe('key rotation and JWKS outages', () => {
  it('accepts a token signed with a newly rotated key without a restart', async () => {
    expect((await get(bearer(idp.sign(claims())))).status).toBe(200);
    idp.rotate();
    const r = await get(bearer(idp.sign(claims({ preferred_username: 'bob@example.com' }))));
    expect(r.status).toBe(200);
    expect(bodyOf(r).headers['x-forwarded-user']).toBe('bob');
  });

  it('keeps serving cached keys while the JWKS endpoint is down; an unknown kid is 503, never 200', async () => {
    idp.jwksMode = 'down';
    try {
      const ok = await get(bearer(idp.sign(claims({ jti: 'fresh-1' }))));
      expect(ok.status).toBe(200);
      const before = upstream.seen.length;
      const unknown = await get(bearer(idp.sign(claims(), { key: makeKey('rotated-while-down') })));
      expect({ status: unknown.status, code: bodyOf(unknown).error }).toEqual({ status: 503, code: 'auth_unavailable' });
      idp.jwksMode = 'hang';
      const hung = await get(bearer(idp.sign(claims(), { key: makeKey('rotated-while-hung') })));
      expect({ status: hung.status, code: bodyOf(hung).error }).toEqual({ status: 503, code: 'auth_unavailable' });
      idp.jwksMode = 'garbage';
      const garbage = await get(bearer(idp.sign(claims(), { key: makeKey('rotated-while-garbage') })));
      expect({ status: garbage.status, code: bodyOf(garbage).error }).toEqual({ status: 503, code: 'auth_unavailable' });
      expect(upstream.seen.length).toBe(before);
      expect((await get(bearer(idp.sign(claims({ jti: 'fresh-2' }))))).status).toBe(200);
    } finally {
      idp.jwksMode = 'up';
    }
  });

  it('reports readiness: every issuer has usable keys', async () => {
    const r = await rawRequest(sidecar.adminUrl, { path: '/readyz' });
    const body = bodyOf(r);
    expect(body.checks.find((c: { name: string }) => c.name === 'jwt-keys')).toMatchObject({ ok: true });
  });
});

describe('unknown-kid cooldown', () => {
  let idp2: TokenIssuer;
  let s2: TestSidecar;
  beforeAll(async () => {
    idp2 = await startTestIssuer();
    s2 = await startTestSidecar(upstream.url, {
      jwt: { issuers: [{ name: 'cool', issuer: idp2.url, audiences: [AUD], keys: { jwksUri: idp2.jwksUrl }, keyCache: { cooldownSec: 300 } }] },
    });
  });
  afterAll(async () => {
    await s2?.close();
    await idp2?.close();
  });

  it('a flood of made-up kids does not hammer the IdP', async () => {
    const c = { iss: idp2.url, aud: AUD, preferred_username: 'carol' };
    expect((await rawRequest(s2.proxyUrl, { path: '/rest/test/echo', headers: bearer(idp2.sign(c)) })).status).toBe(200);
    const fetches = idp2.jwksFetches;
    const codes = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await rawRequest(s2.proxyUrl, { path: '/rest/test/echo', headers: bearer(idp2.sign(c, { key: makeKey(`flood-${i}`) })) });
      codes.add(`${r.status} ${bodyOf(r).error}`);
    }
    expect([...codes]).toEqual(['401 token_invalid']);
    expect(idp2.jwksFetches - fetches).toBeLessThanOrEqual(1);
  });
});

describe('readiness without keys', () => {
  it('is 503 naming the issuer whose JWKS cannot be fetched', async () => {
    const dead = await startTestIssuer();
    dead.jwksMode = 'down';
    const s = await startTestSidecar(upstream.url, {
      jwt: { issuers: [{ name: 'dead-idp', issuer: dead.url, audiences: [AUD], keys: { jwksUri: dead.jwksUrl }, keyCache: { cooldownSec: 0, timeoutMs: 500 } }] },
    });
    try {
      const r = await rawRequest(s.adminUrl, { path: '/readyz' });
      expect(r.status).toBe(503);
      const check = bodyOf(r).checks.find((c: { name: string }) => c.name === 'jwt-keys');
      expect(check.ok).toBe(false);
      expect(check.detail).toContain('dead-idp');
      const before = upstream.seen.length;
      const t = await rawRequest(s.proxyUrl, { path: '/rest/test/echo', headers: bearer(dead.sign({ iss: dead.url, aud: AUD, preferred_username: 'x' })) });
      expect({ status: t.status, code: bodyOf(t).error }).toEqual({ status: 503, code: 'auth_unavailable' });
      expect(upstream.seen.length).toBe(before);
      dead.jwksMode = 'up';
      expect((await rawRequest(s.adminUrl, { path: '/readyz' })).status).toBe(200);
    } finally {
      await s.close();
      await dead.close();
    }
  });
});
