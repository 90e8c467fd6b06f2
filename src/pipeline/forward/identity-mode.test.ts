import { describe, expect, it } from 'vitest';
import type { IdentityMode } from '../../config/identity-schema.js';
import { credentialSubject, selectIdentityMode } from './identity-mode.js';

const cfg = {
  mode: 'header' as IdentityMode,
  issuers: { entra: 'oauth1-impersonation', partners: 'credential-map' } as Record<string, IdentityMode>,
  clients: { 'app-svc': 'credential-map', 'app-ui': 'header' } as Record<string, IdentityMode>,
};

describe('selectIdentityMode', () => {
  it.each([
    ['no issuer, no client: the default', {}, 'header', 'mode'],
    ['issuer override', { issuer: 'entra' }, 'oauth1-impersonation', 'issuers.entra'],
    ['client beats issuer', { issuer: 'entra', clientId: 'app-svc' }, 'credential-map', 'clients.app-svc'],
    ['client override back to header', { issuer: 'partners', clientId: 'app-ui' }, 'header', 'clients.app-ui'],
    ['unknown client falls to the issuer', { issuer: 'partners', clientId: 'other' }, 'credential-map', 'issuers.partners'],
    ['an inherited property name is no override', { issuer: 'constructor', clientId: '__proto__' }, 'header', 'mode'],
  ])('%s', (_n, id, mode, rule) => expect(selectIdentityMode(id, cfg)).toEqual({ mode, rule }));
});

describe('credentialSubject', () => {
  it.each([
    ['service principal: by client id', { username: 'svc', clientId: 'app1', isServicePrincipal: true }, { type: 'client', id: 'app1' }],
    ['a user who came through an app: by username', { username: 'alice', clientId: 'app1', isServicePrincipal: false }, { type: 'user', id: 'alice' }],
    ['service principal without client id: by username', { username: 'svc', isServicePrincipal: true }, { type: 'user', id: 'svc' }],
  ])('%s', (_n, id, want) => expect(credentialSubject(id)).toEqual(want));
});
