// A real IdP: panva's oidc-provider (v9) issues a client_credentials access token in JWT format
// (RFC 9068, via resource indicators) to a client that authenticates with private_key_jwt using a
// key whose certificate is generated here; the sidecar finds the keys by OIDC discovery.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Provider from 'oidc-provider';
import { SignJWT, decodeProtectedHeader, decodeJwt } from 'jose';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { rawRequest, type RawResponse } from '../helpers/http.js';
import { certDerB64, selfSignedCert } from '../helpers/issuer.js';

const RESOURCE = 'https://jira-sidecar.example/api';
const CLIENT_ID = 'jira-bot';
const OTHER_CLIENT = 'other-bot';

let upstream: JiraUpstream;
let idpServer: http.Server;
let issuerUrl: string;
let sidecar: TestSidecar;
const clientKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

const bodyOf = (r: RawResponse) => JSON.parse(r.body.toString()) as Record<string, any>;

function clientMetadata(clientId: string, key: typeof clientKey) {
  const cert = selfSignedCert(key.privateKey, clientId);
  return {
    client_id: clientId,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'RS256',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    jwks: { keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid: `${clientId}-key`, use: 'sig', alg: 'RS256', x5c: [certDerB64(cert)] }] },
  };
}

/** client_credentials with private_key_jwt (RFC 7523 §2.2): the assertion is signed with the client's key. */
async function clientCredentialsToken(clientId: string, key: typeof clientKey): Promise<string> {
  const tokenEndpoint = `${issuerUrl}/token`;
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: `${clientId}-key` })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(tokenEndpoint)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(key.privateKey);
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: RESOURCE,
      client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
  if (!body.access_token) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

beforeAll(async () => {
  upstream = await startJiraUpstream();
  idpServer = http.createServer();
  await new Promise<void>((r) => idpServer.listen(0, '127.0.0.1', r));
  issuerUrl = `http://127.0.0.1:${(idpServer.address() as AddressInfo).port}`;
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuerUrl, {
    clients: [clientMetadata(CLIENT_ID, clientKey), clientMetadata(OTHER_CLIENT, otherKey)],
    jwks: { keys: [{ ...signing, kid: 'idp-signing-1', use: 'sig', alg: 'RS256' }] },
    ttl: { ClientCredentials: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => {
          if (resourceIndicator !== RESOURCE) throw new Error('unknown resource');
          return { scope: 'jira:read', audience: RESOURCE, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
  });
  idpServer.on('request', provider.callback());
  sidecar = await startTestSidecar(upstream.url, {
    jwt: {
      issuers: [
        {
          name: 'oidc-provider',
          issuer: issuerUrl,
          audiences: [RESOURCE],
          keys: { discovery: issuerUrl },
          algorithms: ['RS256'],
          clients: { claim: 'client_id', allow: [CLIENT_ID, OTHER_CLIENT], jiraAccounts: { [CLIENT_ID]: 'svc-integration' } },
        },
      ],
    },
  });
});

afterAll(async () => {
  await sidecar?.close();
  await upstream?.close();
  idpServer?.closeAllConnections();
  await new Promise((r) => idpServer?.close(r));
});

describe('oidc-provider client_credentials token', () => {
  it('is an RFC 9068 JWT access token for our resource', async () => {
    const token = await clientCredentialsToken(CLIENT_ID, clientKey);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: 'idp-signing-1' });
    expect(decodeJwt(token)).toMatchObject({ iss: issuerUrl, aud: RESOURCE, client_id: CLIENT_ID, sub: CLIENT_ID });
  });

  it('is accepted through OIDC discovery and acts as the mapped Jira account', async () => {
    const token = await clientCredentialsToken(CLIENT_ID, clientKey);
    const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });
    expect(r.status).toBe(200);
    expect(bodyOf(r).headers['x-forwarded-user']).toBe('svc-integration');
    expect(bodyOf(r).headers.authorization).toBeUndefined();
  });

  it('an allowed client without a Jira account is refused 403 client_not_allowed', async () => {
    const token = await clientCredentialsToken(OTHER_CLIENT, otherKey);
    const before = upstream.seen.length;
    const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });
    expect({ status: r.status, code: bodyOf(r).error }).toEqual({ status: 403, code: 'client_not_allowed' });
    expect(upstream.seen.length).toBe(before);
  });

  it('the token with one byte of its signature changed is refused', async () => {
    const token = await clientCredentialsToken(CLIENT_ID, clientKey);
    const [h, p, s] = token.split('.');
    const flipped = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
    const r = await rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${flipped}`]] });
    expect({ status: r.status, code: bodyOf(r).error }).toEqual({ status: 401, code: 'token_invalid' });
  });
});
