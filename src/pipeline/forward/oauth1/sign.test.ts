import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, verify } from 'node:crypto';
import { baseStringUri, normalizeParams, oauthEncode, param, parseFormParams, signRequest, signatureBaseString } from './sign.js';

// The worked example of RFC 5849 §3.4.1 (query, form body and protocol parameters together).
const rfcParams = [
  ...parseFormParams('b5=%3D%253D&a3=a&c%40=&a2=r%20b'),
  ...parseFormParams('c2&a3=2+q'),
  param('oauth_consumer_key', '9djdj82h48djs9d2'),
  param('oauth_token', 'kkk9d7dh3k39sjv7'),
  param('oauth_signature_method', 'HMAC-SHA1'),
  param('oauth_timestamp', '137131201'),
  param('oauth_nonce', '7d8f3e4a'),
];

describe('RFC 5849 signature base string', () => {
  it.each([
    ['unreserved kept', 'Aa0-._~', 'Aa0-._~'],
    ['space is %20, not +', 'a b', 'a%20b'],
    ['reserved encoded upper-case', '=&/?', '%3D%26%2F%3F'],
    ['UTF-8 bytes', 'ü', '%C3%BC'],
  ])('§3.6 encoding: %s', (_n, input, want) => expect(oauthEncode(input)).toBe(want));

  it('§3.4.1.3.2 normalizes the RFC example parameters', () => {
    expect(normalizeParams(rfcParams)).toBe(
      'a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7',
    );
  });

  it('§3.4.1.1 builds the RFC example base string', () => {
    expect(signatureBaseString('post', baseStringUri('http://example.com', '/request'), rfcParams)).toBe(
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
    );
  });

  it.each([
    ['default port dropped, case folded', 'HTTP://EXAMPLE.COM:80', '/r%20v/X', 'http://example.com/r%20v/X'],
    ['non-default port kept', 'https://www.example.net:8080', '/', 'https://www.example.net:8080/'],
    ['https default port dropped', 'https://jira.example.com:443', '/rest/api/2/myself', 'https://jira.example.com/rest/api/2/myself'],
    ['empty path is /', 'http://example.com', '', 'http://example.com/'],
  ])('§3.4.1.2 base string URI: %s', (_n, origin, path, want) => expect(baseStringUri(origin, path)).toBe(want));

  it('empty pairs are skipped, empty values kept', () => {
    expect(parseFormParams('a=1&&b=&c').map((p) => [p.name.toString(), p.value.toString()])).toEqual([
      ['a', '1'],
      ['b', ''],
      ['c', ''],
    ]);
  });
});

describe('signRequest (RSA-SHA1, §3.4.3)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const input = {
    method: 'GET',
    origin: 'http://jira.local:8080',
    rawPath: '/rest/api/2/myself',
    queryParams: parseFormParams('xoauth_requestor_id=alice'),
    bodyParams: [],
    consumerKey: 'sidecar',
    privateKey,
    timestamp: 1700000000,
    nonce: 'n1',
  };

  it('signs the base string with the private key (verifiable with the public key)', async () => {
    const s = await signRequest(input);
    const sig = decodeURIComponent(/oauth_signature="([^"]+)"/.exec(s.authorization)![1]!);
    expect(verify('RSA-SHA1', Buffer.from(s.baseString), publicKey, Buffer.from(sig, 'base64'))).toBe(true);
    expect(s.baseString).toContain('xoauth_requestor_id%3Dalice');
    expect(s.baseString).toContain('oauth_token%3D%26');
  });

  it('puts every protocol parameter in the header and no requestor id', async () => {
    const { authorization } = await signRequest(input);
    for (const p of ['oauth_consumer_key="sidecar"', 'oauth_nonce="n1"', 'oauth_signature_method="RSA-SHA1"', 'oauth_timestamp="1700000000"', 'oauth_token=""', 'oauth_version="1.0"'])
      expect(authorization).toContain(p);
    expect(authorization).not.toContain('xoauth_requestor_id');
  });

  it('can leave out the empty oauth_token', async () => {
    const s = await signRequest({ ...input, sendEmptyToken: false });
    expect(s.authorization).not.toContain('oauth_token');
    expect(s.baseString).not.toContain('oauth_token');
  });
});
