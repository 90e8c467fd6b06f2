// Our API token as the password of HTTP Basic (issue 19): classified as an API token, never as a
// Jira password, whatever credentials.basic says; the token in os_password is refused.
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../config/policy.js';
import { validate } from '../../config/validate.js';
import type { RequestFacts } from '../state.js';
import { generateApiToken } from '../../api-tokens/format.js';
import { classifyCredential, type Classification } from './classify.js';

function policyWith(over: Record<string, unknown> = {}) {
  const v = validate(over);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return compilePolicy(v.config);
}

function facts(headers: Array<[string, string]>, target = '/rest/api/2/myself'): RequestFacts {
  const h: Record<string, string> = {};
  for (const [k, v] of headers) h[k.toLowerCase()] ??= v;
  return { method: 'GET', rawTarget: target, headers: h, rawHeaders: headers.flat(), peerIp: '127.0.0.1', receivedAt: 0 };
}

const token = generateApiToken('jas_');
const badChecksum = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
const basic = (user: string, password: string): [string, string] => ['Authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`];
const show = (c: Classification) => (c.ok ? `${c.credential.kind}/${c.credential.action}` : `${c.code}/${c.rule}`);

type Row = [name: string, headers: Array<[string, string]>, expected: string, opts?: { target?: string; config?: Record<string, unknown> }];
const rows: Row[] = [
  ['token as the Basic password', [basic('alice', token)], 'api-token/verify'],
  ['token as the Basic password while credentials.basic is deny (the default)', [basic('alice', token)], 'api-token/verify', { config: { credentials: { basic: 'deny' } } }],
  ['token as the Basic password with credentials.basic passthrough: still ours', [basic('alice', token)], 'api-token/verify', { config: { credentials: { basic: 'passthrough' } } }],
  ['a wrong checksum', [basic('alice', badChecksum)], 'token_invalid/apiToken', { config: { credentials: { basic: 'passthrough' } } }],
  ['the prefix and a wrong length', [basic('alice', `${token}x`)], 'token_invalid/apiToken', { config: { credentials: { basic: 'passthrough' } } }],
  ['the prefix alone', [basic('alice', 'jas_')], 'token_invalid/apiToken', { config: { credentials: { basic: 'passthrough' } } }],
  ['a Jira password while credentials.basic is deny', [basic('alice', 'hunter2')], 'credential_kind_denied/basic'],
  ['a Jira password with passthrough', [basic('alice', 'hunter2')], 'basic/passthrough', { config: { credentials: { basic: 'passthrough' } } }],
  ['a password that merely contains the prefix', [basic('alice', 'my-jas_password')], 'basic/passthrough', { config: { credentials: { basic: 'passthrough' } } }],
  ['credentials.apiToken deny', [basic('alice', token)], 'credential_kind_denied/apiToken', { config: { credentials: { apiToken: 'deny' } } }],
  ['credentials.apiToken passthrough: never handed to Jira as a password', [basic('alice', token)], 'credential_kind_denied/apiToken', { config: { credentials: { apiToken: 'passthrough' } } }],
  ['API tokens disabled', [basic('alice', token)], 'credential_kind_denied/apiToken', { config: { apiTokens: { enabled: false } } }],
  ['a user name longer than 128 characters', [basic('a'.repeat(129), token)], 'token_invalid/api-token:basic-user'],
  ['another prefix: the password is not ours', [basic('alice', token)], 'basic/passthrough', { config: { apiTokens: { prefix: 'acme_' }, credentials: { basic: 'passthrough' } } }],
  ['token as os_password', [], 'credential_kind_denied/query-token', { target: `/rest/api/2/myself?os_username=alice&os_password=${token}`, config: { credentials: { basic: 'passthrough' } } }],
  ['token as os_password, percent-encoded', [], 'credential_kind_denied/query-token', { target: `/rest/api/2/myself?os_username=alice&os%5Fpassword=%6A${token.slice(1)}`, config: { credentials: { basic: 'passthrough' } } }],
  ['token as a second os_password', [], 'credential_kind_denied/query-token', { target: `/rest/api/2/myself?os_password=x&os_password=${token}`, config: { credentials: { basic: 'passthrough' } } }],
  ['a Jira password as os_password', [], 'basic/passthrough', { target: '/rest/api/2/myself?os_username=alice&os_password=hunter2', config: { credentials: { basic: 'passthrough' } } }],
];

describe('an API token as the Basic password', () => {
  it.each(rows)('%s', (_name, headers, expected, opts = {}) => {
    expect(show(classifyCredential(facts(headers, opts.target), policyWith(opts.config)))).toBe(expected);
  });

  it('carries the token as its secret, scheme basic and the user as its principal', () => {
    const c = classifyCredential(facts([basic('alice', token)]), policyWith());
    expect(c.ok && c.credential).toEqual({ kind: 'api-token', action: 'verify', rule: 'apiToken', secret: token, scheme: 'basic', principal: 'alice' });
  });

  it('a report-mode deny of API tokens keeps the claimed user for the verifier', () => {
    const c = classifyCredential(facts([basic('bob', token)]), policyWith({ credentials: { apiToken: 'deny' } }));
    expect(!c.ok && c.denied).toEqual({ kind: 'api-token', action: 'verify', rule: 'apiToken', secret: token, scheme: 'basic', principal: 'bob' });
  });

  it('a refused token with a bad checksum names no secret', () => {
    const c = classifyCredential(facts([basic('alice', badChecksum)]), policyWith());
    expect(JSON.stringify(c)).not.toContain(badChecksum);
  });
});
