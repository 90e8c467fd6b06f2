// The per-request picker: which forwarder a checked identity gets, and what each plan carries.
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../clock.js';
import { policyFrom } from '../../../test/helpers/policy.js';
import type { Credential, Identity, RequestState } from '../state.js';
import type { CredentialSource } from './credential-map/forwarder.js';
import { identityPicker } from './identity-services.js';

const privateKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PAT = 'mapped-pat-0123456789';

const policy = (fallback: string) =>
  policyFrom({
    // An issuer override must name a configured issuer.
    jwt: { issuers: [{ name: 'entra', issuer: 'https://login.example.test/v2.0', audiences: ['x'], keys: { jwksUri: 'https://idp/keys' } }] },
    upstream: {
      sharedSecret: 's3cret',
      identity: {
        mode: 'header',
        clients: { 'app-map': 'credential-map' },
        issuers: { entra: 'oauth1-impersonation' },
        oauth1: { consumerKey: 'ck', privateKeyPem },
        credentialMap: { fallback },
      },
    },
  });

function state(identity: Partial<Identity> | undefined, kind: Credential['kind'] = 'jwt', fallback = 'deny'): RequestState {
  return {
    requestId: 'r1',
    policy: policy(fallback),
    facts: { method: 'GET', rawTarget: '/rest/api/2/myself', headers: {}, rawHeaders: [], peerIp: '127.0.0.1', receivedAt: 0 },
    credential: { kind, action: kind === 'jwt' ? 'verify' : 'passthrough' },
    ...(identity ? { identity: { username: 'alice', source: 'jwt', groups: [], roles: [], isServicePrincipal: false, ...identity } } : {}),
    verdicts: [],
  };
}

const target = { method: 'GET', url: new URL('http://jira:8080/rest/api/2/myself'), path: '/rest/api/2/myself', req: { headers: {}, readableEnded: true } as unknown as IncomingMessage };
const source = (map: Record<string, string>): CredentialSource => ({ reveal: async (t, s) => (map[`${t}:${s}`] ? { secret: map[`${t}:${s}`]!, kind: 'jira-pat', keyId: 'k1' } : undefined) });
const pick = (st: RequestState, src: CredentialSource | undefined = source({ 'client:app-map': PAT })) => identityPicker(fixedClock(1_700_000_000_000), src)(st)(st, target);

describe('identityPicker', () => {
  it('passthrough kinds get no plan (the client credential goes to Jira as sent)', async () => {
    expect(await pick(state(undefined, 'jira-pat'))).toBeUndefined();
  });

  it('header mode: identity header and shared secret', async () => {
    const st = state({ clientId: 'portal' });
    expect((await pick(st))!.headers).toEqual([
      ['X-Forwarded-User', 'alice'],
      ['X-Sidecar-Secret', 's3cret'],
    ]);
    expect(st.verdicts).toContainEqual({ stage: 'forward', rule: 'identity.mode', outcome: 'info', detail: 'header' });
  });

  it('issuer override: an OAuth 1.0a signature for the user, requestor id in the path', async () => {
    const plan = (await pick(state({ issuer: 'entra' })))!;
    expect(plan.headers[0]![1]).toMatch(/^OAuth oauth_consumer_key="ck", oauth_nonce="[0-9a-f]{32}", oauth_signature_method="RSA-SHA1", oauth_timestamp="1700000000", oauth_token="", oauth_version="1.0", oauth_signature="/);
    expect(plan.path).toBe('/rest/api/2/myself?xoauth_requestor_id=alice');
    expect(plan.checkResponse?.(401, [])?.code).toBe('upstream_rejected_identity');
  });

  it('client override: the mapped PAT of a service principal', async () => {
    const plan = (await pick(state({ clientId: 'app-map', isServicePrincipal: true, issuer: 'entra' })))!;
    expect(plan.headers).toEqual([['Authorization', `Bearer ${PAT}`]]);
    expect(plan.checkResponse?.(401, [])?.detail).toContain('client:app-map');
    expect(plan.checkResponse?.(401, [])?.detail).not.toContain(PAT);
    expect(plan.checkResponse?.(200, [])).toBeUndefined();
  });

  it.each([
    ['deny', 'credential_not_mapped'],
    ['header', 'X-Forwarded-User'],
    ['oauth1-impersonation', 'OAuth '],
  ])('no mapping, fallback %s', async (fallback, want) => {
    const st = state({ clientId: 'app-map', isServicePrincipal: false, username: 'bob' }, 'jwt', fallback);
    if (fallback === 'deny') {
      await expect(pick(st)).rejects.toMatchObject({ code: want, status: 403 });
      expect(st.refusal).toMatchObject({ code: want, stage: 'forward', rule: 'credential-map:user' });
    }
    else expect(JSON.stringify((await pick(st))!.headers)).toContain(want);
  });

  it('a stored credential that cannot be read is a 503, never a fallback', async () => {
    const broken: CredentialSource = {
      reveal: async () => {
        throw new Error('key 1234 is not loaded');
      },
    };
    const st = state({ clientId: 'app-map', isServicePrincipal: true }, 'jwt', 'header');
    await expect(pick(st, broken)).rejects.toMatchObject({ code: 'auth_unavailable' });
    // no key ring loaded at all (no SIDECAR_SECRET_KEY): the same refusal
    await expect(identityPicker(fixedClock(0), undefined)(st)(st, target)).rejects.toMatchObject({ code: 'auth_unavailable' });
  });
});
