import { describe, expect, it } from 'vitest';
import { AuditFilterError, decodeCursor, encodeCursor, parseAuditFilters } from './filters.js';

describe('parseAuditFilters', () => {
  it('reads every contract filter', () => {
    expect(
      parseAuditFilters({ from: '2026-01-01T00:00:00Z', to: '1767312000000', user: 'alice', client: 'app-1', token: 'tok1', ip: '10.0.0.1', decision: 'deny', status: '403', path: '/rest/api/2/' }),
    ).toEqual({ from: 1767225600000, to: 1767312000000, user: 'alice', client: 'app-1', token: 'tok1', ip: '10.0.0.1', decision: 'deny', status: 403, path: '/rest/api/2/' });
  });
  it('reads a replica', () => {
    expect(parseAuditFilters({ replica: 'host-1:8090' })).toEqual({ replica: 'host-1:8090' });
  });
  it('reads a status class', () => {
    expect(parseAuditFilters({ status: '4xx' })).toEqual({ statusClass: 4 });
  });
  it.each(['jwt', 'api-token', 'jira-pat', 'opaque-bearer', 'basic', 'oauth1', 'session', 'anonymous'])('reads the credential kind %s', (kind) => {
    expect(parseAuditFilters({ credentialKind: kind })).toEqual({ credentialKind: kind });
  });
  it.each([['any'], ['read_only'], ['credential_kind_denied'], ['a'], ['x'.repeat(64)]])('reads wouldDeny %s', (code) => {
    expect(parseAuditFilters({ wouldDeny: code })).toEqual({ wouldDeny: code });
  });
  it('takes the first of repeated values and ignores empty ones, as for the other filters', () => {
    expect(parseAuditFilters({ credentialKind: ['basic', 'jwt'], wouldDeny: ['any', 'bogus!'] })).toEqual({ credentialKind: 'basic', wouldDeny: 'any' });
    expect(parseAuditFilters({ credentialKind: '', wouldDeny: '' })).toEqual({});
  });
  it('combines credentialKind and wouldDeny with the other filters', () => {
    expect(parseAuditFilters({ user: 'alice', status: '4xx', credentialKind: 'jira-pat', wouldDeny: 'read_only' })).toEqual({
      user: 'alice',
      statusClass: 4,
      credentialKind: 'jira-pat',
      wouldDeny: 'read_only',
    });
  });
  it.each([
    ['from', { from: 'yesterday' }],
    ['decision', { decision: 'maybe' }],
    ['status', { status: '4' }],
    ['path', { path: 'rest/api' }],
    ['credentialKind', { credentialKind: 'JWT' }],
    ['credentialKind', { credentialKind: 'bearer' }],
    ['credentialKind', { credentialKind: 'api_token' }],
    ['credentialKind', { credentialKind: 'toString' }],
    ['credentialKind', { credentialKind: '__proto__' }],
    ['wouldDeny', { wouldDeny: 'ANY' }],
    ['wouldDeny', { wouldDeny: 'Read_Only' }],
    ['wouldDeny', { wouldDeny: 'read-only' }],
    ['wouldDeny', { wouldDeny: 'read_only ' }],
    ['wouldDeny', { wouldDeny: 'code1' }],
    ['wouldDeny', { wouldDeny: 'x'.repeat(65) }],
    ['wouldDeny', { wouldDeny: 'a\u0000b' }],
  ])('names the bad field %s (%j)', (field, q) => {
    try {
      parseAuditFilters(q);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AuditFilterError);
      expect((e as AuditFilterError).field).toBe(field);
    }
  });
});

describe('cursors', () => {
  it('carry (time, replica, id) through, replica names with colons included', () => {
    const p = { time: 1767225600000, replica: 'host-1:8090', id: 42 };
    expect(decodeCursor(encodeCursor(p))).toEqual(p);
  });
  it.each([['bm9wZQ'], [Buffer.from('1767225600000:42').toString('base64url')], [Buffer.from('[1,2,3]').toString('base64url')], [Buffer.from('[1.5,"r",3]').toString('base64url')]])(
    'refuses %s as a cursor',
    (c) => {
      expect(() => decodeCursor(c)).toThrow(AuditFilterError);
    },
  );
});
