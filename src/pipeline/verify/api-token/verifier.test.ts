import { describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../../../clock.js';
import { compilePolicy } from '../../../config/policy.js';
import { validate } from '../../../config/validate.js';
import { SidecarError } from '../../../errors.js';
import { openDb, type Db } from '../../../store/sqlite/db.js';
import { ApiTokens } from '../../../api-tokens/api-tokens.js';
import { SqliteTokenStore } from '../../../store/sqlite/tokens.js';
import { generateApiToken } from '../../../api-tokens/format.js';
import type { Credential, RequestState } from '../../state.js';
import type { EvalMode } from '../../step.js';
import { DAY_MS } from '../../../api-tokens/status.js';
import { apiTokenVerifier } from './verifier.js';
import { useTokenStore } from '../../../../test/helpers/token-store.js';

const T0 = Date.UTC(2026, 0, 1);
let dir: string;
let db: Db;
let clock: ReturnType<typeof fixedClock>;
let store: ApiTokens;

useTokenStore('api-token-verifier-', T0, (f) => ({ dir, db, clock, store } = f));

function stateFor(apiTokens: Record<string, unknown> = {}): RequestState {
  const v = validate({ apiTokens });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return {
    requestId: 'r1',
    policy: compilePolicy(v.config),
    facts: { method: 'GET', rawTarget: '/rest/api/2/myself', headers: {}, rawHeaders: [], peerIp: '127.0.0.1', receivedAt: clock.now() },
    clientIp: '10.1.2.3',
    verdicts: [],
  };
}

const cred = (secret: string): Credential => ({ kind: 'api-token', secret, action: 'verify' });
const mint = (over: Partial<Parameters<ApiTokens['create']>[0]> = {}) =>
  store.create({ owner: 'alice', name: 'ci', groups: ['jira-developers'], createdBy: 't', ...over }, { prefix: 'jas_', maxLifetimeDays: 90 });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SidecarError) return e.code;
    throw e;
  }
  return 'allowed';
}

describe('api-token verifier', () => {
  it('returns the owner identity with scope, IP list, rate limit and the groups stored at creation', async () => {
    const { token, id } = await mint({ access: 'read', paths: ['/rest/api/2/search'], ipAllowlist: ['10.0.0.0/8'], rateLimit: { points: 5, durationSec: 60 } });
    const identity = await apiTokenVerifier(store, clock).verify(cred(token), stateFor(), 'proxy');
    expect(identity).toMatchObject({
      username: 'alice',
      source: 'api-token',
      tokenId: id,
      groups: ['jira-developers'],
      scope: { access: 'read', paths: ['/rest/api/2/search'] },
      ipAllowlist: ['10.0.0.0/8'],
      rateLimit: { points: 5, durationSec: 60 },
      isServicePrincipal: false,
      expiresAt: Math.floor((T0 + 90 * DAY_MS) / 1000),
    });
  });

  it('refuses a wrong checksum offline, without a database lookup', async () => {
    const { token } = await mint();
    const lookup = vi.spyOn(store, 'findByToken');
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(await refusal(apiTokenVerifier(store, clock).verify(cred(token.slice(0, -1) + last), stateFor(), 'proxy'))).toBe('token_invalid');
    expect(await refusal(apiTokenVerifier(store, clock).verify(cred('jas_short'), stateFor(), 'proxy'))).toBe('token_invalid');
    expect(lookup).not.toHaveBeenCalled();
  });

  it.each<[string, (v: { token: string; id: string }) => string | void | Promise<unknown>, Record<string, unknown>, string]>([
    ['unknown token', () => generateApiToken('jas_'), {}, 'token_invalid'],
    ['revoked token', ({ id }) => store.revoke(id), {}, 'token_revoked'],
    ['expired token', () => clock.advance(90 * DAY_MS), {}, 'token_expired'],
    ['token older than a lowered maxLifetimeDays', () => clock.advance(31 * DAY_MS), { maxLifetimeDays: 30 }, 'token_expired'],
    ['revoked and expired: revoked', ({ id }) => store.revoke(id).then(() => clock.advance(100 * DAY_MS)), {}, 'token_revoked'],
    ['API tokens disabled', () => {}, { enabled: false }, 'credential_kind_denied'],
  ])('%s -> %s', async (_name, arrange, apiTokens, code) => {
    const minted = await mint();
    const arranged = await arrange(minted);
    const secret = typeof arranged === 'string' ? arranged : minted.token;
    expect(await refusal(apiTokenVerifier(store, clock).verify(cred(secret), stateFor(apiTokens), 'proxy'))).toBe(code);
  });

  it('a revocation takes effect on the next request (no positive cache)', async () => {
    const { token, id } = await mint();
    const v = apiTokenVerifier(store, clock);
    expect(await refusal(v.verify(cred(token), stateFor(), 'proxy'))).toBe('allowed');
    // Revoked through a second connection, as the CLI does from another process.
    const other = openDb(dir).db;
    await new ApiTokens(new SqliteTokenStore(other)).revoke(id);
    other.close();
    expect(await refusal(v.verify(cred(token), stateFor(), 'proxy'))).toBe('token_revoked');
  });

  it.each<[EvalMode, boolean]>([
    ['proxy', true],
    ['test', false],
  ])('mode %s stamps last-used: %s', async (mode, stamped) => {
    const { token, id } = await mint();
    const touch = vi.spyOn(store, 'touch');
    await apiTokenVerifier(store, clock).verify(cred(token), stateFor(), mode);
    expect(touch.mock.calls).toEqual(stamped ? [[id, '10.1.2.3', T0]] : []);
  });

  it('a store that cannot answer is 503 auth_unavailable, never an allow', async () => {
    const { token } = await mint();
    vi.spyOn(store, 'findByToken').mockRejectedValue(new Error('SQLITE_BUSY'));
    expect(await refusal(apiTokenVerifier(store, clock).verify(cred(token), stateFor(), 'proxy'))).toBe('auth_unavailable');
  });
});
