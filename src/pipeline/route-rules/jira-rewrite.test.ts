// Jira's "/s/…/_/" static-resource rewrite: every spelling is judged where Jira routes it, or refused.
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../config/policy.js';
import { validate } from '../../config/validate.js';
import { canonicalisePath } from './canonical.js';
import { decideRoute, routeView } from './decide.js';
import { jiraRewrite } from './jira-rewrite.js';

const rewrite = (target: string) => {
  const c = canonicalisePath(target);
  if (!c.ok) throw new Error(c.reason);
  return jiraRewrite(c.rawPath, c.path, c.altered);
};

describe('jiraRewrite: where Jira forwards /s/…/_/', () => {
  const judged: Array<[string, string[]]> = [
    ['/s/x/_/rest/api/2/myself', ['/rest/api/2/myself']],
    ['/S/x/_/rest/api/2/myself', ['/rest/api/2/myself']],
    ['/s/a/b/c/_/rest/api/2/myself', ['/rest/api/2/myself']],
    // greedy (.*): the path after the LAST "/_/" is served; every "s" is a possible rule start
    ['/s/a/_/s/b/_/rest/api/2/myself', ['/rest/api/2/myself', '/s/a/_/rest/api/2/myself']],
    ['/s/x/_/rest/_/api', ['/api']],
    // under a context path the client sends itself
    ['/jira/s/x/_/rest/api/2/myself', ['/jira/rest/api/2/myself']],
    ['/a/b/s/x/_/rest/x', ['/a/b/rest/x']],
    ['//s/x/_/rest/api/2/myself', ['/rest/api/2/myself']],
    ['/s//_/rest/api/2/myself', ['/rest/api/2/myself']],
    ['/s/x/_/', ['/']],
    ['/s/x/_/rest/', ['/rest/']],
    ['/s/x/_/%72est/api/2/myself', ['/rest/api/2/myself']],
    ['http://jira.example/s/x/_/rest/api/2/myself?a=b', ['/rest/api/2/myself']],
    ['/s/d41d8cd98f00b204e9800998ecf8427e-CDN/-1hvpkk/820011/6411e0/_/download/contextbatch/css/_super/batch.css', ['/download/contextbatch/css/_super/batch.css']],
  ];
  for (const [target, candidates] of judged) {
    it(`${target} -> ${candidates.join(' | ')}`, () => expect(rewrite(target)).toMatchObject({ ok: true, candidates }));
  }

  const refused = [
    '/s/x/%5f/rest/api/2/myself',
    '/s/x/%5F/rest/api/2/myself',
    '/%73/x/_/rest/api/2/myself',
    '/%53/x/_/rest/api/2/myself',
    '/s/x/_;a=b/rest/api/2/myself',
    '/s;a/x/_/rest/api/2/myself',
    '/s/x/_/;/rest/api/2/myself',
    '/s/cfx/_/;/WEB-INF/web.xml',
    '/s/x/_/rest;x/api/2/myself',
    '/s/x/_/../_/rest/api/2/myself',
    '/s/x/_/rest/api/2/serverInfo/../myself',
    '/rest/../s/x/_/rest/api/2/myself',
    '/s/x/_/..;/rest/api/2/myself',
    '/s/x/_/%2e%2e/_/rest/api/2/myself',
  ];
  for (const target of refused) {
    it(`refuses ${target}`, () => expect(rewrite(target)).toMatchObject({ ok: false }));
  }

  for (const target of ['/rest/api/2/myself', '/rest/api/2/issue/PROJ-1', '/secure/Dashboard.jspa', '/s/x/rest', '/_/s/rest', '/rest/api/2/user?username=_']) {
    it(`leaves ${target} alone`, () => expect(rewrite(target)).toBeUndefined());
  }
});

describe('decideRoute with Jira rewrites', () => {
  const v = validate({ bypass: ['/rest/api/2/serverInfo'], protectedPaths: ['/rest/', '/jira/rest/'] });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const view = routeView(compilePolicy(v.config));

  it('judges /s/x/_/rest/… as guarded at the rewritten path, marked altered', () => {
    expect(decideRoute('GET', '/s/x/_/rest/api/2/myself', view)).toMatchObject({ ok: true, route: 'guarded', canonicalPath: '/rest/api/2/myself', altered: true });
  });
  it('never bypasses through the rewrite', () => {
    expect(decideRoute('GET', '/s/x/_/rest/api/2/serverInfo', view)).toMatchObject({ ok: true, route: 'guarded' });
  });
  it('under a context path', () => {
    expect(decideRoute('GET', '/jira/s/x/_/rest/api/2/myself', view)).toMatchObject({ ok: true, route: 'guarded', canonicalPath: '/jira/rest/api/2/myself' });
  });
  it('static resources stay unprotected', () => {
    expect(decideRoute('GET', '/s/abc/1.0/_/download/resources/x.js', view)).toMatchObject({ ok: true, route: 'unprotected' });
  });
  it('refusals name the rule', () => {
    expect(decideRoute('GET', '/s/x/%5f/rest/api/2/myself', view)).toMatchObject({ ok: false, rule: 'jira-rewrite' });
  });
});
