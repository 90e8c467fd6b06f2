// Secrets never reach a log line: the redaction helpers and the logger's own redact paths.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactHeaders, redactUrl } from './log.js';

describe('redactUrl', () => {
  it.each([
    ['/x', '/x'],
    ['/x?a=1', '/x?a=1'],
    ['/x?access_token=abc&a=1', '/x?access_token=REDACTED&a=1'],
    ['/x?os_username=u&os_password=p', '/x?os_username=REDACTED&os_password=REDACTED'],
    ['/x?TOKEN=abc', '/x?TOKEN=REDACTED'],
    ['/x?access%5Ftoken=abc', '/x?access%5Ftoken=REDACTED'],
    ['/x?jwt=a.b.c&client_secret=s&code=c&api_key=k', '/x?jwt=REDACTED&client_secret=REDACTED&code=REDACTED&api_key=REDACTED'],
    ['/x?token', '/x?token'],
    ['/x?a=%E0%A4', '/x?a=%E0%A4'],
    ['/rest/api/2/myself;jsessionid=ABC123?a=1', '/rest/api/2/myself;jsessionid=REDACTED?a=1'],
    ['/a;JSESSIONID=ABC/b', '/a;JSESSIONID=REDACTED/b'],
  ])('%s -> %s', (inp, out) => expect(redactUrl(inp)).toBe(out));
});

describe('redactHeaders', () => {
  it('masks credential-bearing headers in any case, plus extra names', () => {
    const out = redactHeaders(
      { Authorization: 'Bearer x', cookie: 'JSESSIONID=a', 'Proxy-Authorization': 'Basic y', 'X-Sidecar-Secret': 's', 'x-api-key': 'k', accept: '*/*' },
      ['X-Api-Key'],
    );
    expect(out).toEqual({
      Authorization: 'REDACTED',
      cookie: 'REDACTED',
      'Proxy-Authorization': 'REDACTED',
      'X-Sidecar-Secret': 'REDACTED',
      'x-api-key': 'REDACTED',
      accept: '*/*',
    });
  });
});

describe('createLogger', () => {
  it('redacts secrets at the logger level too', () => {
    let text = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    const log = createLogger('info', sink);
    log.info({ headers: { authorization: 'Bearer topsecret1', cookie: 'JSESSIONID=topsecret2' }, upstream: { sharedSecret: 'topsecret3' }, password: 'topsecret4' }, 'hello');
    log.info({ req: { headers: { authorization: 'Basic topsecret5' } } }, 'nested');
    expect(text).toContain('"msg":"hello"');
    expect(text).toContain('REDACTED');
    expect(text).not.toMatch(/topsecret/);
    expect(JSON.parse(text.split('\n')[0]!).level).toBe('info');
  });
});
