import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { diffLeaves } from './config-doc.js';
import { planFileWrite } from './config-store.js';

const file = (name: string, text: string) => {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'cfg-')), name);
  writeFileSync(f, text);
  return f;
};

// The effective configs the diff is taken between (as after ${VAR} expansion).
const before = {
  upstream: { url: 'http://jira', sharedSecret: 'from-env' },
  jwt: { issuers: [{ name: 'a', audiences: ['x'], keys: { jwksUri: 'https://idp/keys' } }] },
  access: { readOnlyGroups: ['auditors'] },
};
const yamlText = [
  '# header comment',
  'upstream:',
  '  url: http://jira',
  '  sharedSecret: ${SECRET} # vault',
  'jwt:',
  '  issuers:',
  '    - name: a',
  '      audiences: [x]',
  '      keys: { jwksUri: "${JWKS_URL:-https://idp/keys}" }',
  'access:',
  '  readOnlyGroups: [auditors]',
  '',
].join('\n');

describe('planFileWrite', () => {
  it('changes only what changed, keeping comments and placeholders (YAML)', () => {
    const next = structuredClone(before) as any;
    next.access.readOnlyGroups = ['auditors', 'viewers'];
    next.jwt.issuers.push({ name: 'b', audiences: ['y'], keys: { jwksUri: 'https://idp2/keys' } });
    const plan = planFileWrite(file('c.yaml', yamlText), diffLeaves(before, next));
    expect(plan.issues).toEqual([]);
    expect(plan.text).toContain('# header comment');
    expect(plan.text).toContain('sharedSecret: ${SECRET} # vault');
    expect(plan.text).toContain('${JWKS_URL:-https://idp/keys}');
    const doc = parse(plan.text!);
    expect(doc.access.readOnlyGroups).toEqual(['auditors', 'viewers']);
    expect(doc.jwt.issuers.map((i: any) => i.name)).toEqual(['a', 'b']);
  });

  it('writes JSON files as JSON', () => {
    const f = file('c.json', JSON.stringify({ upstream: { url: 'http://jira', sharedSecret: '${SECRET}' } }));
    const next = structuredClone(before) as any;
    next.upstream.url = 'http://jira-2';
    const plan = planFileWrite(f, diffLeaves({ upstream: before.upstream }, { upstream: next.upstream }));
    expect(JSON.parse(plan.text!)).toEqual({ upstream: { url: 'http://jira-2', sharedSecret: '${SECRET}' } });
  });

  it.each([
    ['a value set from a placeholder', (n: any) => (n.upstream.sharedSecret = 'typed-in'), 'upstream.sharedSecret'],
    ['a new value containing "${"', (n: any) => (n.upstream.url = 'http://${HOST}'), 'upstream.url'],
  ])('refuses %s', (_name, edit, at) => {
    const next = structuredClone(before) as any;
    edit(next);
    const plan = planFileWrite(file('c.yaml', yamlText), diffLeaves(before, next));
    expect(plan.issues.map((i) => i.path)).toEqual([at]);
    expect(plan.text).toBeUndefined();
  });

  it('rewrites one field of an array item, keeping the placeholder in another field of it', () => {
    const next = structuredClone(before) as any;
    next.jwt.issuers[0].audiences = ['z', 'w'];
    const plan = planFileWrite(file('c.yaml', yamlText), diffLeaves(before, next));
    expect(plan.issues).toEqual([]);
    expect(plan.text).toContain('${JWKS_URL:-https://idp/keys}');
    expect(parse(plan.text!).jwt.issuers[0].audiences).toEqual(['z', 'w']);
  });

  it('refuses to drop an array item that carries a placeholder when the list is rewritten', () => {
    const next = structuredClone(before) as any;
    next.jwt.issuers = [{ name: 'b', audiences: ['y'], keys: { jwksUri: 'https://idp2/keys' } }, { name: 'c', audiences: ['y'], keys: { jwksUri: 'https://idp3/keys' } }];
    const plan = planFileWrite(file('c.yaml', yamlText), diffLeaves(before, next));
    expect(plan.issues.map((i) => i.path)).toEqual(['jwt.issuers[0]']);
  });
});
