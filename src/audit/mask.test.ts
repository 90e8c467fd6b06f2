import { describe, expect, it } from 'vitest';
import { MASK, maskSecrets } from './mask.js';

describe('maskSecrets', () => {
  it.each([
    ['secret-looking keys at any depth', { introspection: { clientSecret: 's3cr3t', endpoint: 'https://idp' } }, { introspection: { clientSecret: MASK, endpoint: 'https://idp' } }],
    ['password', { password: 'hunter2', username: 'admin' }, { password: MASK, username: 'admin' }],
    ['everything under a matching key, arrays included', { tokens: [{ value: 'jas_x' }, 'jas_y'] }, { tokens: [{ value: MASK }, MASK] }],
    ['key and credential spellings', { apiKey: 'k', Credential: 'c', sharedSecret: 'x' }, { apiKey: MASK, Credential: MASK, sharedSecret: MASK }],
    ['booleans and null stay (set/unset is visible)', { secretSet: true, password: null }, { secretSet: true, password: null }],
    ['numbers under a matching key are masked', { pinToken: 1234 }, { pinToken: MASK }],
    ['other keys untouched', { upstream: { url: 'http://jira', timeoutMs: 30000 } }, { upstream: { url: 'http://jira', timeoutMs: 30000 } }],
  ])('%s', (_n, input, out) => {
    expect(maskSecrets(input)).toEqual(out);
  });
});
