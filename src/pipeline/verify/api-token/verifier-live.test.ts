// The API-token verifier's issue-19 checks: the Basic user name against the owner, and the owner's
// live identity in Jira (apiTokens.groupsFrom: jira), with the Jira lookup stubbed.
import { describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../../../clock.js';
import { compilePolicy } from '../../../config/policy.js';
import { validate } from '../../../config/validate.js';
import { SidecarError } from '../../../errors.js';
import { ApiTokens } from '../../../api-tokens/api-tokens.js';
import type { Credential, RequestState } from '../../state.js';
import type { JiraUser } from '../jwt/jira-groups.js';
import type { OwnerIdentities } from './owner-identity.js';
import { apiTokenVerifier } from './verifier.js';
import { useTokenStore } from '../../../../test/helpers/token-store.js';

const T0 = Date.UTC(2026, 0, 1);
let clock: ReturnType<typeof fixedClock>;
let store: ApiTokens;
useTokenStore('api-token-live-', T0, (f) => ({ clock, store } = f));

const JIRA = { jiraGroupLookup: { authorization: 'Bearer svc' } };
function stateFor(over: Record<string, unknown> = {}): RequestState {
  const v = validate(over);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return {
    requestId: 'r1',
    policy: compilePolicy(v.config),
    facts: { method: 'GET', rawTarget: '/rest/api/2/myself', headers: {}, rawHeaders: [], peerIp: '127.0.0.1', receivedAt: clock.now() },
    clientIp: '10.1.2.3',
    verdicts: [],
  };
}

const bearer = (secret: string): Credential => ({ kind: 'api-token', secret, action: 'verify', scheme: 'bearer' });
const viaBasic = (secret: string, user: string): Credential => ({ kind: 'api-token', secret, action: 'verify', scheme: 'basic', principal: user });
const mint = () => store.create({ owner: 'alice', name: 'ci', groups: ['snapshot'], createdBy: 't' }, { prefix: 'jas_', maxLifetimeDays: 90 });
/** An OwnerIdentities stand-in answering `user` (or throwing `error`). */
const owners = (answer: JiraUser | SidecarError) => {
  const of = vi.fn(async () => {
    if (answer instanceof SidecarError) throw answer;
    return answer;
  });
  return { of, stub: { of } as unknown as OwnerIdentities };
};

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    const id = (await p) as { username: string; groups: string[] };
    return `${id.username} [${id.groups.join(',')}]`;
  } catch (e) {
    if (e instanceof SidecarError) return `${e.code}/${e.rule}`;
    throw e;
  }
}

describe('a token sent as the Basic password', () => {
  it('is accepted only with its owner as the user part', async () => {
    const { token } = await mint();
    const v = apiTokenVerifier(store, clock);
    expect(await outcome(v.verify(viaBasic(token, 'alice'), stateFor(), 'proxy'))).toBe('alice [snapshot]');
    expect(await outcome(v.verify(viaBasic(token, 'bob'), stateFor(), 'proxy'))).toBe('token_invalid/api-token:basic-user');
    expect(await outcome(v.verify(viaBasic(token, 'ALICE'), stateFor(), 'proxy'))).toBe('token_invalid/api-token:basic-user');
  });

  it('a wrong user learns nothing about the token: a revoked one is still just token_invalid, and is not stamped', async () => {
    const { token, id } = await mint();
    await store.revoke(id);
    const touch = vi.spyOn(store, 'touch');
    const v = apiTokenVerifier(store, clock);
    expect(await outcome(v.verify(viaBasic(token, 'bob'), stateFor(), 'proxy'))).toBe('token_invalid/api-token:basic-user');
    expect(await outcome(v.verify(viaBasic(token, 'alice'), stateFor(), 'proxy'))).toBe('token_revoked/api-token:revoked');
    expect(touch).not.toHaveBeenCalled();
  });
});

describe('groupsFrom: jira', () => {
  it("replaces the snapshot with the owner's groups in Jira", async () => {
    const { token } = await mint();
    const o = owners({ found: true, active: true, groups: ['g1', 'g2'] });
    const st = stateFor(JIRA);
    expect(await outcome(apiTokenVerifier(store, clock, o.stub).verify(bearer(token), st, 'proxy'))).toBe('alice [g1,g2]');
    expect(o.of).toHaveBeenCalledWith('alice', st.policy, 'proxy');
  });

  it.each<[string, JiraUser]>([
    ['deactivated', { found: true, active: false, groups: ['g1'] }],
    ['deleted', { found: false, active: false, groups: [] }],
  ])('a %s owner is 403 owner_inactive and the token is not stamped', async (_what, user) => {
    const { token } = await mint();
    const touch = vi.spyOn(store, 'touch');
    expect(await outcome(apiTokenVerifier(store, clock, owners(user).stub).verify(bearer(token), stateFor(JIRA), 'proxy'))).toBe('owner_inactive/api-token:owner');
    expect(touch).not.toHaveBeenCalled();
  });

  it('a lookup that fails is 503 auth_unavailable; without a lookup wired too', async () => {
    const { token } = await mint();
    const down = owners(new SidecarError('auth_unavailable', { rule: 'api-token:jira', detail: 'HTTP 500' }));
    expect(await outcome(apiTokenVerifier(store, clock, down.stub).verify(bearer(token), stateFor(JIRA), 'proxy'))).toBe('auth_unavailable/api-token:jira');
    expect(await outcome(apiTokenVerifier(store, clock).verify(bearer(token), stateFor(JIRA), 'proxy'))).toBe('auth_unavailable/api-token:jira');
  });

  it('an unknown, revoked or wrong-user token is refused before Jira is asked', async () => {
    const { token, id } = await mint();
    const o = owners({ found: true, active: true, groups: [] });
    const v = apiTokenVerifier(store, clock, o.stub);
    expect(await outcome(v.verify(viaBasic(token, 'bob'), stateFor(JIRA), 'proxy'))).toBe('token_invalid/api-token:basic-user');
    await store.revoke(id);
    expect(await outcome(v.verify(bearer(token), stateFor(JIRA), 'proxy'))).toBe('token_revoked/api-token:revoked');
    expect(o.of).not.toHaveBeenCalled();
  });

  it('groupsFrom: creation keeps the snapshot and never asks', async () => {
    const { token } = await mint();
    const o = owners({ found: false, active: false, groups: [] });
    const st = stateFor({ ...JIRA, apiTokens: { groupsFrom: 'creation' } });
    expect(await outcome(apiTokenVerifier(store, clock, o.stub).verify(bearer(token), st, 'proxy'))).toBe('alice [snapshot]');
    expect(o.of).not.toHaveBeenCalled();
  });
});
