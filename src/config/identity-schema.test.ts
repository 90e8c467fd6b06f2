// Config messages are user interface: pinned.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { validate } from './validate.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
// Issuer overrides must name a configured issuer (validate.ts), so the rows run with one named "entra".
const entra = { name: 'entra', issuer: 'https://login.example.test/v2.0', audiences: ['x'], keys: { jwksUri: 'https://idp/keys' } };
const identity = (v: unknown) => validate({ jwt: { issuers: [entra] }, upstream: { identity: v } });
const issues = (v: unknown) => {
  const r = identity(v);
  return r.ok ? [] : r.issues;
};

describe('upstream.identity', () => {
  it('defaults to header mode with nothing else required', () => {
    const r = validate({});
    expect(r.ok && r.config.upstream.identity).toMatchObject({ mode: 'header', issuers: {}, clients: {}, credentialMap: { fallback: 'deny' }, oauth1: { maxFormBodyBytes: 1048576, sendEmptyToken: true } });
  });

  it.each([
    ['oauth1 mode without key settings', { mode: 'oauth1-impersonation' }, [
      { path: 'upstream.identity.oauth1.consumerKey', message: 'required for mode oauth1-impersonation: the consumer key of the Jira application link' },
      { path: 'upstream.identity.oauth1', message: 'set one of privateKeyPem, privateKeyFile: the RSA private key whose public key is registered in Jira (create one with `jira-auth-sidecar applink keygen`)' },
    ]],
    ['oauth1 chosen only by an issuer override', { issuers: { entra: 'oauth1-impersonation' }, oauth1: { privateKeyPem: rsa } }, [
      { path: 'upstream.identity.oauth1.consumerKey', message: 'required for mode oauth1-impersonation: the consumer key of the Jira application link' },
    ]],
    ['oauth1 as the credential-map fallback', { clients: { app: 'credential-map' }, credentialMap: { fallback: 'oauth1-impersonation' }, oauth1: { consumerKey: 'k' } }, [
      { path: 'upstream.identity.oauth1', message: 'set one of privateKeyPem, privateKeyFile: the RSA private key whose public key is registered in Jira (create one with `jira-auth-sidecar applink keygen`)' },
    ]],
    ['both key sources', { oauth1: { consumerKey: 'k', privateKeyPem: rsa, privateKeyFile: '/k.pem' } }, [
      { path: 'upstream.identity.oauth1', message: 'set only one of privateKeyPem, privateKeyFile' },
    ]],
    ['an EC key', { mode: 'oauth1-impersonation', oauth1: { consumerKey: 'k', privateKeyPem: ec } }, [
      { path: 'upstream.identity.oauth1.privateKeyPem', message: 'must be an RSA private key (found ec); RSA-SHA1 is the only method Jira application links verify' },
    ]],
    ['not a PEM', { mode: 'oauth1-impersonation', oauth1: { consumerKey: 'k', privateKeyPem: 'hello' } }, [
      { path: 'upstream.identity.oauth1.privateKeyPem', message: 'not a PEM private key: the RSA private key whose public key is registered in Jira (create one with `jira-auth-sidecar applink keygen`)' },
    ]],
    ['an unknown mode', { mode: 'basic' }, [{ path: 'upstream.identity.mode', message: 'must be one of header, oauth1-impersonation, credential-map' }]],
    ['an unknown override mode', { clients: { app: 'pat' } }, [{ path: 'upstream.identity.clients.app', message: 'must be one of header, oauth1-impersonation, credential-map' }]],
    ['an unknown fallback', { credentialMap: { fallback: 'allow' } }, [{ path: 'upstream.identity.credentialMap.fallback', message: 'must be one of deny, header, oauth1-impersonation' }]],
    ['a relative jiraBaseUrl', { oauth1: { jiraBaseUrl: 'jira.example.com' } }, [{ path: 'upstream.identity.oauth1.jiraBaseUrl', message: 'must be an absolute http(s) URL, e.g. https://jira.example.com' }]],
  ])('%s', (_n, input, want) => expect(issues(input)).toEqual(want));

  it('accepts a complete oauth1 setup', () => {
    expect(identity({ mode: 'oauth1-impersonation', oauth1: { consumerKey: 'jira-auth-sidecar', privateKeyPem: rsa, jiraBaseUrl: 'https://jira.example.com' } }).ok).toBe(true);
  });
});
