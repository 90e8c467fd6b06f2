import { describe, expect, it } from 'vitest';
import { csvCell, csvHeader } from './export.js';

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

describe('csvHeader', () => {
  it('names the stored columns in their order, then the replica (positional readers keep working)', () => {
    expect(csvHeader()).toBe(
      'id,time,request_id,decision,reason,status,method,path,client_ip,user,credential_kind,token_id,client_id,issuer,latency_ms,upstream_status,route,stage,rule,prev_hash,row_hash,replica,would_deny,user_agent,facts\r\n',
    );
  });
});
