// Proves one of our API tokens: checksum (offline, before any lookup), then the stored hash,
// the Basic user name when the token came as a Basic password, revocation, expiry, and with
// apiTokens.groupsFrom "jira" the owner's live state in Jira (owner-identity.ts). No positive result
// is cached: every request reads the row from the store, so a revocation takes effect on the very
// next request.
import { SidecarError } from '../../../errors.js';
import type { Clock } from '../../../clock.js';
import type { ApiTokenRecord } from '../../../store/token-store.js';
import { hasValidChecksum } from '../../../api-tokens/format.js';
import type { Identity } from '../../state.js';
import type { Verifier } from '../verifier.js';
import { apiTokenStatus, effectiveExpiry } from '../../../api-tokens/status.js';
import { groupsFromOf, type OwnerIdentities } from './owner-identity.js';

/** What the verifier needs from ApiTokens (tests can wrap it to count lookups). */
export interface ApiTokenLookup {
  findByToken(secret: string): Promise<ApiTokenRecord | undefined>;
  touch(id: string, ip: string, timeMs: number): void;
}

/**
 * The Identity a token acts with. A token carries no groups of its own: it has the owner's groups
 * as they were when it was minted (from the creator's JWT, or --groups on the CLI), which the
 * verifier replaces with the owner's groups in Jira under apiTokens.groupsFrom "jira". The authorize
 * stage enforces `scope` (read-only, path patterns) and `ipAllowlist`; rate-limit reads `rateLimit`.
 */
export function apiTokenIdentity(rec: ApiTokenRecord, expiresAtMs: number): Identity {
  const identity: Identity = {
    username: rec.owner,
    source: 'api-token',
    groups: [...rec.groups],
    roles: [],
    isServicePrincipal: false,
    tokenId: rec.id,
    scope: { access: rec.access, paths: [...rec.paths] },
    ipAllowlist: [...rec.ipAllowlist],
    expiresAt: Math.floor(expiresAtMs / 1000),
  };
  if (rec.rateLimit) identity.rateLimit = { ...rec.rateLimit };
  return identity;
}

/**
 * `owners`: the live owner lookup used when apiTokens.groupsFrom resolves to "jira"; without it such
 * a token is 503 auth_unavailable (never the creation snapshot in its place).
 */
export function apiTokenVerifier(store: ApiTokenLookup, clock: Clock, owners?: OwnerIdentities): Verifier {
  return {
    kind: 'api-token',
    async verify(credential, state, mode) {
      const cfg = state.policy.config.apiTokens;
      if (!cfg.enabled) throw new SidecarError('credential_kind_denied', { rule: 'apiTokens.enabled', detail: 'API tokens are disabled' });
      const secret = credential.secret ?? '';
      // A typo or a truncated paste is refused offline: no database work for garbage.
      if (!hasValidChecksum(secret, cfg.prefix)) throw new SidecarError('token_invalid', { rule: 'api-token:checksum', detail: 'checksum mismatch' });
      let rec: ApiTokenRecord | undefined;
      try {
        rec = await store.findByToken(secret);
      } catch (e) {
        // The store cannot answer (locked / unreadable database): never a silent allow.
        throw new SidecarError('auth_unavailable', { rule: 'api-token:store', detail: `token store: ${(e as Error).message}`, cause: e });
      }
      if (!rec) throw new SidecarError('token_invalid', { rule: 'api-token:unknown', detail: 'no such token' });
      // Sent as the password of Basic (classify.ts): the user part must name the owner, checked
      // before anything else about the row, so a wrong user learns no more than from an unknown token.
      if (credential.scheme === 'basic' && credential.principal !== rec.owner) {
        throw new SidecarError('token_invalid', { rule: 'api-token:basic-user', detail: 'the Basic user name is not the token owner' });
      }
      const now = clock.now();
      const status = apiTokenStatus(rec, now, cfg.maxLifetimeDays);
      if (status === 'revoked') throw new SidecarError('token_revoked', { rule: 'api-token:revoked', detail: `token ${rec.id}` });
      if (status === 'expired') throw new SidecarError('token_expired', { rule: 'api-token:expiry', detail: `token ${rec.id}` });
      const identity = apiTokenIdentity(rec, effectiveExpiry(rec, cfg.maxLifetimeDays));
      if (groupsFromOf(state.policy).from === 'jira') {
        if (!owners) throw new SidecarError('auth_unavailable', { rule: 'api-token:jira', detail: 'no Jira owner lookup is wired' });
        // Throws 503 auth_unavailable when Jira cannot answer and nothing usable is cached.
        const owner = await owners.of(rec.owner, state.policy, mode);
        if (!owner.found || !owner.active) {
          throw new SidecarError('owner_inactive', { rule: 'api-token:owner', detail: `token ${rec.id}: owner ${rec.owner} is ${owner.found ? 'deactivated' : 'unknown'} in Jira` });
        }
        identity.groups = [...owner.groups];
        state.verdicts.push({ stage: 'verify', rule: 'api-token:groups', outcome: 'info', detail: 'groups of the owner in Jira (apiTokens.groupsFrom: jira)' });
      } else {
        state.verdicts.push({ stage: 'verify', rule: 'api-token:groups', outcome: 'info', detail: 'groups as of the token\'s creation (apiTokens.groupsFrom: creation)' });
      }
      // POST /api/test ('test') must not change anything, last-used included.
      if (mode === 'proxy') store.touch(rec.id, state.clientIp ?? state.facts.peerIp, now);
      return identity;
    },
  };
}
