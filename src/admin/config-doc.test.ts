import { describe, expect, it } from 'vitest';
import { applyChanges, diffLeaves, isSecretKey, maskedChanges, maskSecrets, MASK, secretPaths, unmaskSecrets } from './config-doc.js';

const current = {
  upstream: { url: 'http://jira', sharedSecret: 's3cret' },
  introspection: { enabled: false, clientSecret: 'cs' },
  jwt: { issuers: [{ name: 'a', audiences: ['x'] }] },
  access: { readOnlyGroups: ['auditors'] },
};

describe('secrets', () => {
  it('masks every secret-named key and lists the set ones', () => {
    const m = maskSecrets(current);
    expect(m.upstream.sharedSecret).toBe(MASK);
    expect(m.introspection.clientSecret).toBe(MASK);
    expect(m.upstream.url).toBe('http://jira');
    expect(secretPaths(current)).toEqual(['upstream.sharedSecret', 'introspection.clientSecret']);
    expect(JSON.stringify(maskSecrets({ upstream: { identity: { oauth1: { privateKeyPem: 'PEM' } } }, jiraGroupLookup: { authorization: 'Bearer x' } }))).not.toMatch(/PEM|Bearer/);
  });

  it.each([
    ['sharedSecret', true],
    ['clientSecret', true],
    ['privateKeyPem', true],
    ['authorization', true],
    ['redisUrl', true],
    ['sharedSecretHeader', false],
    ['privateKeyFile', false],
    ['certificatePem', false],
    ['clientId', false],
  ])('isSecretKey(%s) is %s', (key, expected) => {
    expect(isSecretKey(key)).toBe(expected);
  });

  it.each([
    ['mask sent back keeps the stored value', { upstream: { url: 'u', sharedSecret: MASK } }, 's3cret'],
    ['a new value replaces it', { upstream: { url: 'u', sharedSecret: 'new' } }, 'new'],
    ['absent removes it', { upstream: { url: 'u' } }, undefined],
  ])('%s', (_name, sent, expected) => {
    expect(unmaskSecrets(sent, current).upstream).toEqual(expected === undefined ? { url: 'u' } : { url: 'u', sharedSecret: expected });
  });

  it('drops a mask where nothing is stored', () => {
    expect(unmaskSecrets({ rateLimit: { redisUrl: MASK } }, current)).toEqual({ rateLimit: {} });
  });
});

describe('diffLeaves / applyChanges', () => {
  it('reports changed leaves only; an array whose length changed is one change', () => {
    const next = structuredClone(current) as any;
    next.access.readOnlyGroups = ['auditors', 'viewers'];
    next.jwt.issuers[0].audiences = ['y'];
    delete next.upstream.sharedSecret;
    const d = diffLeaves(current, next);
    expect(d).toEqual([
      { path: ['upstream', 'sharedSecret'], before: 's3cret', after: undefined },
      { path: ['jwt', 'issuers', 0, 'audiences', 0], before: 'x', after: 'y' },
      { path: ['access', 'readOnlyGroups'], before: ['auditors'], after: ['auditors', 'viewers'] },
    ]);
    expect(applyChanges(current, d)).toEqual(next);
  });

  it('replays changes over a different base, leaving untouched settings of the new base', () => {
    const base2 = { ...structuredClone(current), upstream: { url: 'http://jira-2', sharedSecret: 's3cret' } };
    const next = structuredClone(current) as any;
    next.access.readOnlyGroups = [];
    expect(applyChanges(base2, diffLeaves(current, next)).upstream.url).toBe('http://jira-2');
  });

  it('masks secrets in the change list for the activity log', () => {
    const next = structuredClone(current) as any;
    next.upstream.sharedSecret = 'other';
    expect(maskedChanges(diffLeaves(current, next))).toEqual([{ path: 'upstream.sharedSecret', before: MASK, after: MASK }]);
  });
});

describe('store.url is a secret by where it sits', () => {
  const doc = { store: { kind: 'postgres', url: 'postgres://sidecar:pw@db/sidecar' }, upstream: { url: 'http://jira:8080' } };
  it('is masked, listed, kept on unmask, and masked in change records; other urls are not', () => {
    expect(maskSecrets(doc)).toEqual({ store: { kind: 'postgres', url: MASK }, upstream: { url: 'http://jira:8080' } });
    expect(secretPaths(doc)).toEqual(['store.url']);
    expect(unmaskSecrets(maskSecrets(doc), doc)).toEqual(doc);
    expect(maskedChanges([{ path: ['store', 'url'], before: 'postgres://a:b@x/y', after: 'postgres://a:c@x/y' }])).toEqual([{ path: 'store.url', before: MASK, after: MASK }]);
  });
});

