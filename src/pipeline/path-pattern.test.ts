import { describe, expect, it } from 'vitest';
import { matchesPattern, parsePathPattern } from './path-pattern.js';

describe('path patterns', () => {
  const rows: Array<[string, string, string, boolean]> = [
    ['/rest/a', 'GET', '/rest/a', true],
    ['/rest/a', 'GET', '/rest/a/', false],
    ['/rest/a', 'GET', '/rest/ab', false],
    ['/rest/a/*', 'GET', '/rest/a', true],
    ['/rest/a/*', 'GET', '/rest/a/b/c', true],
    ['/rest/a/*', 'GET', '/rest/ab', false],
    ['/*', 'PUT', '/anything', true],
    ['GET /rest/a', 'GET', '/rest/a', true],
    ['GET /rest/a', 'POST', '/rest/a', false],
    ['GET /rest/a', 'get', '/rest/a', false],
    ['/rest/server%49nfo', 'GET', '/rest/serverInfo', true],
  ];
  for (const [p, m, path, want] of rows) it(`${p} vs ${m} ${path}`, () => expect(matchesPattern(parsePathPattern(p), m, path)).toBe(want));

  for (const bad of ['rest/a', '/rest/*/a', '/rest/a?x=1', '/rest/a;x', '/rest/../a', '/rest/%2F', 'get /rest/a'])
    it(`rejects ${bad}`, () => expect(() => parsePathPattern(bad)).toThrow(TypeError));
});
