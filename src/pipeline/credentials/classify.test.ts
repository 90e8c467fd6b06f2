import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../config/policy.js';
import { validate } from '../../config/validate.js';
import type { RequestFacts } from '../state.js';
import { generateApiToken } from '../../api-tokens/format.js';
import { classifyCredential, jwsShape, looksLikeJiraPat } from './classify.js';

function policyWith(over: Record<string, unknown> = {}) {
  const v = validate(over);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return compilePolicy(v.config);
}

function facts(headers: Array<[string, string]>, target = '/rest/api/2/myself'): RequestFacts {
  const rawHeaders = headers.flat();
  const h: Record<string, string> = {};
  for (const [k, v] of headers) h[k.toLowerCase()] ??= v;
  return { method: 'GET', rawTarget: target, headers: h, rawHeaders, peerIp: '127.0.0.1', receivedAt: 0 };
}

const b64u = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = `${b64u({ alg: 'RS256', kid: 'k1' })}.${b64u({ sub: 'alice' })}.c2ln`;
const apiToken = generateApiToken('jas_');
const badChecksum = apiToken.slice(0, -1) + (apiToken.endsWith('A') ? 'B' : 'A');
// Structure of a real Jira DC PAT: base64("<12-digit id>:" + 20 random bytes) = 44 characters.
const pat = Buffer.concat([Buffer.from('634349021388:'), Buffer.alloc(20, 0x9b)]).toString('base64');
const basic = Buffer.from('alice:secret').toString('base64');
const oauth = 'OAuth oauth_consumer_key="jira-app", oauth_token="t", oauth_signature_method="RSA-SHA1", oauth_signature="c2ln", oauth_timestamp="1", oauth_nonce="n", oauth_version="1.0"';

type Row = [name: string, headers: Array<[string, string]>, expected: string, opts?: { target?: string; config?: Record<string, unknown> }];

// expected: "kind/action" for an accepted classification, or the refusal code.
const rows: Row[] = [
  ['no credential', [], 'anonymous/passthrough'],
  ['anonymous denied', [], 'credential_kind_denied', { config: { credentials: { anonymous: 'deny' } } }],
  ['Bearer JWT', [['Authorization', `Bearer ${jwt}`]], 'jwt/verify'],
  ['lower-case scheme (RFC 7235)', [['authorization', `bearer ${jwt}`]], 'jwt/verify'],
  ['upper-case scheme', [['AUTHORIZATION', `BEARER ${jwt}`]], 'jwt/verify'],
  ['JWT passthrough', [['Authorization', `Bearer ${jwt}`]], 'jwt/passthrough', { config: { credentials: { jwt: 'passthrough' } } }],
  ['JWT denied', [['Authorization', `Bearer ${jwt}`]], 'credential_kind_denied', { config: { credentials: { jwt: 'deny' } } }],
  ['alg none JWT is still a JWS shape (verify refuses it)', [['Authorization', `Bearer ${b64u({ alg: 'none' })}.${b64u({ sub: 'x' })}.`]], 'jwt/verify'],
  ['JWE (five segments)', [['Authorization', `Bearer ${b64u({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`]], 'credential_malformed'],
  ['eyJ header that is not JSON', [['Authorization', 'Bearer eyJub3Rqc29u.eyJzdWIiOiJ4In0.c2ln']], 'credential_malformed'],
  ['JWT with non-base64url characters', [['Authorization', `Bearer ${jwt.replace('.', '.*')}`]], 'credential_malformed'],
  ['empty Bearer', [['Authorization', 'Bearer ']], 'credential_malformed'],
  ['Bearer without value', [['Authorization', 'Bearer']], 'credential_malformed'],
  ['Bearer with two tokens', [['Authorization', `Bearer ${jwt} ${jwt}`]], 'credential_malformed'],
  ['Bearer and Basic in one header', [['Authorization', `Bearer ${jwt}, Basic ${basic}`]], 'credential_malformed'],
  ['token longer than 16 KiB', [['Authorization', `Bearer ${'a'.repeat(17 * 1024)}`]], 'credential_malformed'],
  ['two Authorization headers', [['Authorization', `Bearer ${jwt}`], ['Authorization', `Bearer ${jwt}`]], 'credential_malformed'],
  ['two Authorization headers, different case', [['Authorization', `Bearer ${jwt}`], ['authorization', `Basic ${basic}`]], 'credential_malformed'],
  ['garbage Authorization', [['Authorization', '(((']], 'credential_malformed'],
  ['unknown scheme', [['Authorization', 'Digest username="a"']], 'credential_kind_denied'],
  ['sidecar API token', [['Authorization', `Bearer ${apiToken}`]], 'api-token/verify'],
  ['API token, wrong checksum', [['Authorization', `Bearer ${badChecksum}`]], 'token_invalid'],
  ['API token, truncated', [['Authorization', `Bearer ${apiToken.slice(0, -3)}`]], 'token_invalid'],
  ['API token, tokens disabled', [['Authorization', `Bearer ${apiToken}`]], 'credential_kind_denied', { config: { apiTokens: { enabled: false } } }],
  ['API token denied', [['Authorization', `Bearer ${apiToken}`]], 'credential_kind_denied', { config: { credentials: { apiToken: 'deny' } } }],
  ['Jira PAT', [['Authorization', `Bearer ${pat}`]], 'jira-pat/passthrough'],
  ['Jira PAT denied', [['Authorization', `Bearer ${pat}`]], 'credential_kind_denied', { config: { credentials: { jiraPat: 'deny' } } }],
  ['opaque bearer, no introspection = Jira OAuth 2.0', [['Authorization', 'Bearer 3f2a9c0d6b7e41a8b2c5d9e0f1a2b3c4']], 'opaque-bearer/passthrough'],
  ['opaque bearer, Jira OAuth 2.0 denied', [['Authorization', 'Bearer 3f2a9c0d6b7e41a8b2c5d9e0f1a2b3c4']], 'credential_kind_denied', { config: { credentials: { jiraOAuth2: 'deny' } } }],
  [
    'opaque bearer with introspection',
    [['Authorization', 'Bearer 3f2a9c0d6b7e41a8b2c5d9e0f1a2b3c4']],
    'opaque-bearer/verify',
    { config: { introspection: { enabled: true, endpoint: 'http://idp/introspect', clientId: 'c', clientSecret: 's' } } },
  ],
  ['Basic denied (default)', [['Authorization', `Basic ${basic}`]], 'credential_kind_denied'],
  ['Basic passthrough', [['Authorization', `basic ${basic}`]], 'basic/passthrough', { config: { credentials: { basic: 'passthrough' } } }],
  ['Basic not base64', [['Authorization', 'Basic !!!']], 'credential_malformed', { config: { credentials: { basic: 'passthrough' } } }],
  ['Basic without colon', [['Authorization', `Basic ${Buffer.from('alice').toString('base64')}`]], 'credential_malformed', { config: { credentials: { basic: 'passthrough' } } }],
  ['os_username/os_password when basic is denied', [], 'credential_kind_denied', { target: '/rest/api/2/myself?os_username=a&os_password=b' }],
  ['os_password percent-encoded name', [], 'credential_kind_denied', { target: '/rest/api/2/myself?os%5Fpassword=b' }],
  ['os_username with basic passthrough', [], 'basic/passthrough', { target: '/rest/x?os_username=a&os_password=b', config: { credentials: { basic: 'passthrough' } } }],
  ['Authorization plus os_password', [['Authorization', `Bearer ${jwt}`]], 'credential_malformed', { target: '/rest/x?os_password=b' }],
  ['access_token in the query', [], 'credential_kind_denied', { target: `/rest/api/2/myself?access_token=${jwt}` }],
  ['ACCESS_TOKEN in the query', [['Authorization', `Bearer ${jwt}`]], 'credential_kind_denied', { target: '/rest/api/2/myself?ACCESS_TOKEN=x' }],
  ['jwt in the query (Connect style)', [], 'credential_kind_denied', { target: '/rest/api/2/myself?jwt=x' }],
  ['OAuth 1.0a', [['Authorization', oauth]], 'oauth1/passthrough'],
  ['OAuth 1.0a denied', [['Authorization', oauth]], 'credential_kind_denied', { config: { credentials: { oauth1: 'deny' } } }],
  ['OAuth header without signature', [['Authorization', 'OAuth oauth_consumer_key="x"']], 'credential_malformed'],
  ['OAuth header not key="value"', [['Authorization', 'OAuth garbage']], 'credential_malformed'],
  ['JSESSIONID cookie', [['Cookie', 'JSESSIONID=ABC123; atlassian.xsrf.token=x']], 'session/passthrough'],
  ['seraph remember-me cookie', [['Cookie', 'seraph.rememberme.cookie=123%3Aabc']], 'session/passthrough'],
  ['session denied', [['Cookie', 'JSESSIONID=ABC123']], 'credential_kind_denied', { config: { credentials: { session: 'deny' } } }],
  ['unrelated cookie only', [['Cookie', 'theme=dark']], 'anonymous/passthrough'],
  ['Bearer wins over a session cookie', [['Authorization', `Bearer ${jwt}`], ['Cookie', 'JSESSIONID=ABC']], 'jwt/verify'],
];

describe('classifyCredential', () => {
  it.each(rows)('%s', (_name, headers, expected, opts) => {
    const c = classifyCredential(facts(headers, opts?.target), policyWith(opts?.config));
    expect(c.ok ? `${c.credential.kind}/${c.credential.action}` : c.code).toBe(expected);
    if (c.ok && c.credential.kind !== 'anonymous' && c.credential.kind !== 'session' && c.credential.kind !== 'oauth1' && !opts?.target) {
      expect(c.credential.secret).toBeTruthy();
    }
  });

  it('names the refused kind when it was recognised (for the audit row)', () => {
    const denied = classifyCredential(facts([['Authorization', `Basic ${basic}`]]), policyWith());
    expect(denied.ok === false && denied.kind).toBe('basic');
    const bad = classifyCredential(facts([['Authorization', `Bearer ${badChecksum}`]]), policyWith());
    expect(bad.ok === false && bad.kind).toBe('api-token');
    const two = classifyCredential(facts([['Authorization', 'a'], ['Authorization', 'b']]), policyWith());
    expect(two.ok === false && two.kind).toBeUndefined();
  });

  it('keeps the secret out of refusal details', () => {
    const c = classifyCredential(facts([['Authorization', `Bearer ${badChecksum}`]]), policyWith());
    expect(c.ok).toBe(false);
    expect(JSON.stringify(c)).not.toContain(badChecksum);
  });
});

describe('looksLikeJiraPat', () => {
  it.each([
    ['real structure', pat, true],
    ['a public sample from the wild', 'NjM0MzQ5MDIxMzg4OpTbOJlBQ8pQNsF078ecJkGtwTCb', true],
    ['random hex', '3f2a9c0d6b7e41a8b2c5d9e0f1a2b3c4', false],
    ['base64 of "user:password"', Buffer.from('alice:password-is-long-enough').toString('base64'), false],
    ['id too short', Buffer.concat([Buffer.from('12:'), Buffer.alloc(20, 1)]).toString('base64'), false],
    ['secret too short', Buffer.concat([Buffer.from('634349021388:'), Buffer.alloc(8, 1)]).toString('base64'), false],
  ])('%s', (_n, token, expected) => {
    expect(looksLikeJiraPat(token)).toBe(expected);
  });
});

// jwsShape and the b64token gate read one regular expression over the whole token; the grammar it
// replaced (split into segments, a test per segment, a separate b64token test) is written here as
// the reference. Random strings over an alphabet of every class boundary (and characters outside
// ASCII) must get the same answer from both.
describe('JWS shape and b64token gate against the per-segment reference', () => {
  const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
  const SEGMENT = /^[A-Za-z0-9_-]*$/;
  const referenceShape = (token: string): 'jws' | 'jose-like' | 'no' => {
    const parts = token.split('.');
    const meant = token.startsWith('eyJ');
    if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return meant && parts.length >= 2 ? 'jose-like' : 'no';
    const header = parts[0]!;
    let isHeader = false;
    if (header && header.length % 4 !== 1) {
      try {
        const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
        isHeader = !!h && typeof h === 'object' && !Array.isArray(h) && typeof (h as { alg?: unknown }).alg === 'string';
      } catch {
        /* not JSON */
      }
    }
    if (isHeader && parts[1]!.length > 0) return 'jws';
    return meant ? 'jose-like' : 'no';
  };
  const alphabet = ['a', 'Z', '0', '9', '-', '_', '.', '~', '+', '/', '=', '"', '\u007f', '\u0080', 'é', '\u2028', '😀', '%', ':'];
  const header = Buffer.from(JSON.stringify({ alg: 'RS256' })).toString('base64url');
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const randomString = () => Array.from({ length: 1 + rand(12) }, () => alphabet[rand(alphabet.length)]).join('');
  const cases = [
    '=', 'a=', 'a==b', '.', '..', '...', 'eyJ', 'eyJ.', 'eyJ..', 'eyJ...', `${header}.x.`, `${header}..y`, `${header}.x.y`, `${header}.x.y.z`,
    `${header}.x+.y`, `${header}.x.y=`, `eyJ${'a'.repeat(5)}.b.c`, `${header}.é.c`,
  ];
  for (let i = 0; i < 5_000; i++) {
    const s = randomString();
    cases.push(s, `${header}.${s}`, `eyJ${s}`, `${s}.${s}.${s}`);
  }
  const policy = policyWith({ introspection: { enabled: true, endpoint: 'https://idp.example/introspect', clientId: 'c', clientSecret: 's' } });

  it('jwsShape agrees on 20,000 random strings, JWS-like ones included', () => {
    for (const c of cases) expect([c, jwsShape(c)]).toEqual([c, referenceShape(c)]);
  });

  it('a Bearer value is refused as not a b64token exactly when the b64token grammar says so', () => {
    for (const c of cases) {
      const r = classifyCredential(facts([['Authorization', `Bearer ${c}`]]), policy);
      const refusedAsNotB64 = !r.ok && r.detail.includes('not a b64token');
      const value = c.trim(); // the header value is trimmed first; an empty one has its own refusal
      expect([c, refusedAsNotB64]).toEqual([c, value !== '' && !B64TOKEN.test(value)]);
    }
  });
});
