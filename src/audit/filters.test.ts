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
  it.each([
    ['from', { from: 'yesterday' }],
    ['decision', { decision: 'maybe' }],
    ['status', { status: '4' }],
    ['path', { path: 'rest/api' }],
  ])('names the bad field %s', (field, q) => {
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
