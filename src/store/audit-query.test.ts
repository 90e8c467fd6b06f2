import { describe, expect, it } from 'vitest';
import { AuditFilterError, csvCell, parseAuditFilters } from './audit-query.js';

describe('csvCell (RFC 4180 + formula neutralisation)', () => {
  const rows: Array<[string, string | number | null, string]> = [
    ['plain text stays', '/rest/api/2/myself', '/rest/api/2/myself'],
    ['null is an empty cell', null, ''],
    ['numbers are written as they are', 403, '403'],
    ['comma is quoted', 'a,b', '"a,b"'],
    ['double quote is doubled and quoted', 'say "hi"', '"say ""hi"""'],
    ['LF is quoted', 'line1\nline2', '"line1\nline2"'],
    ['CRLF is quoted', 'line1\r\nline2', '"line1\r\nline2"'],
    ['= formula is neutralised', '=HYPERLINK("http://x","y")', '"\'=HYPERLINK(""http://x"",""y"")"'],
    ['+ is neutralised', '+1+1', "'+1+1"],
    ['- is neutralised', '-2+3', "'-2+3"],
    ['@ is neutralised', '@SUM(A1)', "'@SUM(A1)"],
    ['leading TAB is neutralised', '\t=1', "'\t=1"],
    ['leading CR is neutralised and quoted', '\r=1', '"\'\r=1"'],
    ['= later in the cell is harmless', 'a=b', 'a=b'],
  ];
  it.each(rows)('%s', (_name, input, out) => {
    expect(csvCell(input)).toBe(out);
  });
});

describe('parseAuditFilters', () => {
  it('reads every contract filter', () => {
    expect(
      parseAuditFilters({ from: '2026-01-01T00:00:00Z', to: '1767312000000', user: 'alice', client: 'app-1', token: 'tok1', ip: '10.0.0.1', decision: 'deny', status: '403', path: '/rest/api/2/' }),
    ).toEqual({ from: 1767225600000, to: 1767312000000, user: 'alice', client: 'app-1', token: 'tok1', ip: '10.0.0.1', decision: 'deny', status: 403, path: '/rest/api/2/' });
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
