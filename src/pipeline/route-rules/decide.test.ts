import { describe, expect, it } from 'vitest';
import { validate } from '../../config/validate.js';
import { policyFrom } from '../../../test/helpers/policy.js';
import { decideRoute, routeView } from './decide.js';

const route = (cfg: unknown, method: string, target: string) => {
  const r = decideRoute(method, target, routeView(policyFrom(cfg)));
  return r.ok ? r.route : 'refused';
};

describe('decideRoute', () => {
  const rows: Array<[string, unknown, string, string, string]> = [
    ['outside protectedPaths', {}, 'GET', '/secure/Dashboard.jspa', 'unprotected'],
    ['under /rest/', {}, 'GET', '/rest/api/2/myself', 'guarded'],
    ['"/rest" itself (servlet mapping /rest/* covers it)', {}, 'GET', '/rest', 'guarded'],
    ['"/restx" is not under /rest/', {}, 'GET', '/restx', 'unprotected'],
    ['dot-segments into /rest/', {}, 'GET', '/secure/../rest/api/2/myself', 'guarded'],
    ['dot-segments out of /rest/', {}, 'GET', '/rest/../secure/Dashboard.jspa', 'unprotected'],
    ['custom protectedPaths', { protectedPaths: ['/rest/', '/plugins/servlet/'] }, 'GET', '/plugins/servlet/x', 'guarded'],
    ['exact bypass', { bypass: ['/rest/api/2/serverInfo'] }, 'GET', '/rest/api/2/serverInfo', 'bypass'],
    ['exact bypass is not a prefix', { bypass: ['/rest/api/2/serverInfo'] }, 'GET', '/rest/api/2/serverInfo/x', 'guarded'],
    ['prefix bypass', { bypass: ['/rest/public/*'] }, 'DELETE', '/rest/public/a', 'bypass'],
    ['method bypass, other method', { bypass: ['GET /rest/public/*'] }, 'DELETE', '/rest/public/a', 'guarded'],
    ['bypass of an altered spelling', { bypass: ['/rest/api/2/serverInfo'] }, 'GET', '/rest/api/2/x/../serverInfo', 'guarded'],
    ['lockdown off by default', { publicApiLockdown: { paths: ['/rest/api/2/project'] } }, 'GET', '/rest/api/2/project', 'guarded'],
    ['lockdown listed', { publicApiLockdown: { enabled: true, paths: ['/rest/api/2/project/*'] } }, 'GET', '/rest/api/2/project/X', 'lockdown'],
    ['lockdown listed, other path', { publicApiLockdown: { enabled: true, paths: ['/rest/api/2/project/*'] } }, 'GET', '/rest/api/2/myself', 'guarded'],
    ['lockdown listed via dot-segments', { publicApiLockdown: { enabled: true, paths: ['/rest/api/2/project'] } }, 'GET', '/rest/api/2/x/..;/project', 'lockdown'],
    ['lockdown all', { publicApiLockdown: { enabled: true, all: true } }, 'GET', '/rest/api/2/myself', 'lockdown'],
    ['bypass beats lockdown all', { bypass: ['/rest/api/2/serverInfo'], publicApiLockdown: { enabled: true, all: true } }, 'GET', '/rest/api/2/serverInfo', 'bypass'],
    ['listed lockdown beats bypass', { bypass: ['/rest/api/2/serverInfo'], publicApiLockdown: { enabled: true, paths: ['/rest/api/2/serverInfo'] } }, 'GET', '/rest/api/2/serverInfo', 'lockdown'],
    ['lockdown all does not reach unprotected paths', { publicApiLockdown: { enabled: true, all: true } }, 'GET', '/secure/Dashboard.jspa', 'unprotected'],
    ['bad path refused', {}, 'GET', '/rest/api%2F2', 'refused'],
    ['bad path outside /rest/ refused too', {}, 'GET', '/secure/%2e%2e/%2e%2e/%2e%2e', 'refused'],
    ['enabled: false forwards everything untouched', { enabled: false, bypass: ['/rest/x'] }, 'GET', '/rest/api/2/myself', 'unprotected'],
    ['enabled: false does not refuse a bad path', { enabled: false }, 'GET', '/rest/api%2F2', 'unprotected'],
  ];
  for (const [name, cfg, method, target, want] of rows) it(name, () => expect(route(cfg, method, target)).toBe(want));

  it('explains each step in verdicts', () => {
    const r = decideRoute('GET', '/rest/api/2/x/../serverInfo', routeView(policyFrom({ bypass: ['/rest/api/2/serverInfo'] })));
    expect(r.verdicts.map((v) => [v.rule, v.outcome])).toEqual([
      ['canonical-path', 'info'],
      ['protectedPaths', 'info'],
      ['bypass', 'skip'],
    ]);
  });

  it('validate reports a pattern that cannot match safely, at its path', () => {
    const v = validate({ bypass: ['/ok/*', '/rest/a/../b'], publicApiLockdown: { paths: ['/x/*/y'] }, access: { readSafePosts: ['POST /rest/%2F'] }, protectedPaths: ['/rest%2F'] });
    expect(v.ok ? [] : v.issues).toEqual([
      { path: 'bypass[1]', message: 'write it without ";" parameters or "." / ".." segments' },
      { path: 'publicApiLockdown.paths[0]', message: '"*" is only allowed as a final "/*"' },
      { path: 'access.readSafePosts[0]', message: 'encoded "/" (%2F)' },
      { path: 'protectedPaths[0]', message: 'cannot be matched safely: encoded "/" (%2F)' },
    ]);
  });
});
