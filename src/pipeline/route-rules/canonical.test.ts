import { describe, expect, it } from 'vitest';
import { validate } from '../../config/validate.js';
import { compilePolicy } from '../../config/policy.js';
import { canonicalisePath } from './canonical.js';
import { decideRoute, routeView } from './decide.js';

describe('canonicalisePath: the path Tomcat routes', () => {
  const ok: Array<[string, string, boolean]> = [
    // [raw target, canonical path, altered]
    ['/rest/api/2/myself', '/rest/api/2/myself', false],
    ['/rest/api/2/myself?expand=groups&x=/../y', '/rest/api/2/myself', false],
    ['/rest/api/2/server%49nfo', '/rest/api/2/serverInfo', false],
    ['//rest///api/2/myself', '/rest/api/2/myself', false],
    ['/rest/api/2/myself/', '/rest/api/2/myself/', false],
    ['/', '/', false],
    ['/rest/api/2/a;jsessionid=1/b', '/rest/api/2/a/b', true],
    ['/rest/api/2/a;x;y/b;z', '/rest/api/2/a/b', true],
    ['/rest/api/2/x/../myself', '/rest/api/2/myself', true],
    ['/rest/api/2/x/./../myself/.', '/rest/api/2/myself/', true],
    ['/rest/api/2/x/..', '/rest/api/2/', true],
    ['/rest/api/2/x/%2e%2E/myself', '/rest/api/2/myself', true],
    ['/rest/api/2/x/..%3b/myself', '/rest/api/2/x/..;/myself', false],
    ['/rest/api/2/%20space', '/rest/api/2/ space', false],
    ['/rest/api/2/%C3%A9', '/rest/api/2/é', false],
    ['/Rest/API/2/Myself', '/Rest/API/2/Myself', false],
    ['http://jira.example:8080/rest/api/2/myself?x', '/rest/api/2/myself', false],
    ['https://jira.example', '/', false],
  ];
  for (const [raw, path, altered] of ok) {
    it(`${raw} -> ${path}`, () => {
      const c = canonicalisePath(raw);
      expect(c.ok && { path: c.path, altered: c.altered }).toEqual({ path, altered });
    });
  }
  const refused = [
    '/rest/api%2F2/myself',
    '/rest/api%5c2/myself',
    '/rest/api/2/myself%00',
    '/rest/api/2/\\myself',
    '/rest/api/2/%0amyself',
    '/rest/api/2/%zz',
    '/rest/api/2/%2',
    '/rest/api/2/%c0%ae%c0%ae',
    '/rest/api/2/%252e%252e/x',
    '/rest/api/2/my self',
    '/rest/api/2/myself#frag',
    '/rest/api/2/ü',
    '/..',
    '/rest/../../x',
    '*',
    'rest/api/2/myself',
    'ftp://host/rest/api/2/myself',
  ];
  for (const raw of refused) {
    it(`refuses ${JSON.stringify(raw)}`, () => expect(canonicalisePath(raw).ok).toBe(false));
  }
});

describe('no spelling reaches a guarded path through a bypassed one', () => {
  const v = validate({ bypass: ['/rest/api/2/serverInfo', 'GET /rest/public/*'] });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const view = routeView(compilePolicy(v.config));

  // [method, target]: each must end up 'guarded' or refused, never 'bypass'.
  const attacks: Array<[string, string]> = [
    ['GET', '/rest/api/2/serverInfo/../myself'],
    ['GET', '/rest/api/2/serverInfo/..;/myself'],
    ['GET', '/rest/api/2/serverInfo;x/../myself'],
    ['GET', '/rest/api/2/serverInfo;x/../../2/myself'],
    ['GET', '/rest/api/2/serverInfo/%2e%2e/myself'],
    ['GET', '/rest/api/2/serverInfo/%2E%2E/myself'],
    ['GET', '/rest/api/2/serverInfo/.%2e/myself'],
    ['GET', '/rest/api/2/serverInfo/%2e./myself'],
    ['GET', '/rest/api/2/serverInfo%2f..%2fmyself'],
    ['GET', '/rest/api/2/serverInfo%2F..%2Fmyself'],
    ['GET', '/rest/api/2/serverInfo%5c..%5cmyself'],
    ['GET', '/rest/api/2/serverInfo\\..\\myself'],
    ['GET', '/rest/api/2/serverInfo%00/../myself'],
    ['GET', '//rest/api/2/serverInfo/../myself'],
    ['GET', '/rest//api/2/serverInfo/../myself'],
    ['GET', '/rest/api/2/serverInfo/./../myself'],
    ['GET', '/rest/api/2/serverInfo/%252e%252e/myself'],
    ['GET', '/rest/api/2/serverInfo%252f..%252fmyself'],
    ['GET', 'http://jira.example/rest/api/2/serverInfo/../myself'],
    ['GET', 'HTTP://jira.example/rest/api/2/serverInfo/..;/myself'],
    ['GET', '/rest/api/2/serverInfo;jsessionid=abc'],
    ['GET', '/rest/api/2/serverInfo/;/../../2/myself'],
    ['GET', '/rest/api/2/serverInfo/..%3b/myself'],
    ['GET', '/rest/api/2/serverInfo%3B/../myself'],
    ['GET', '/rest/api/2/serverInfo/.../myself'],
    ['GET', '/rest/api/2/serverInfo#/../myself'],
    ['GET', '/rest/api/2/SERVERINFO'],
    ['GET', '/rest/api/2/serverInfo/'],
    ['GET', '/rest/api/2/serverInfo%2e%2e/myself'],
    ['GET', '/rest/api/2/serverInf%6f/../myself'],
    ['GET', '/rest/api/2/serverInfo/../../../../../myself'],
    ['GET', '/rest/api/2/serverInfo/%c0%ae%c0%ae/myself'],
    ['GET', '/rest/api/2/serverInfo/%u002e%u002e/myself'],
    ['GET', '/rest/api/2/serverInfo/%2e%2e%2fmyself'],
    ['GET', '/rest/api/2/serverInfo/%09../myself'],
    ['GET', '/rest/public/../api/2/myself'],
    ['GET', '/rest/public/..;/api/2/myself'],
    ['GET', '/rest/public;/../api/2/myself'],
    ['GET', '/rest/public/%2e%2e/api/2/myself'],
    ['GET', '/rest/public/x/../../api/2/myself'],
    ['GET', '/rest/public/../../../etc/passwd'],
    ['GET', '/rest/publicX/../api/2/myself'],
    ['POST', '/rest/public/x'],
    ['get', '/rest/public/x'],
    ['GET', '/rest/publicity'],
    ['GET', '*'],
  ];
  for (const [method, target] of attacks) {
    it(`${method} ${target}`, () => {
      const r = decideRoute(method, target, view);
      expect(r.ok ? r.route : 'refused').toMatch(/^(guarded|refused)$/);
    });
  }

  const legitimate: Array<[string, string]> = [
    ['GET', '/rest/api/2/serverInfo'],
    ['GET', '/rest/api/2/serverInfo?doHealthCheck=true'],
    ['GET', '/rest/api/2/server%49nfo'],
    ['GET', '//rest/api/2/serverInfo'],
    ['GET', 'http://jira.example/rest/api/2/serverInfo'],
    ['GET', '/rest/public'],
    ['GET', '/rest/public/a/b'],
  ];
  for (const [method, target] of legitimate) {
    it(`bypasses ${method} ${target}`, () => {
      const r = decideRoute(method, target, view);
      expect(r.ok && r.route).toBe('bypass');
    });
  }
});
