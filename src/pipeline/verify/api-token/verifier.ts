// Proves one of our API tokens: checksum (offline, before any lookup), then the stored hash,
// revocation, expiry. No positive result is cached: every request reads the row from the store, so
// a revocation takes effect on the very next request.
import { SidecarError } from '../../../errors.js';
import type { Clock } from '../../../clock.js';
import type { ApiTokenRecord } from '../../../store/token-store.js';
import { hasValidChecksum } from '../../../api-tokens/format.js';
import type { Identity } from '../../state.js';
import type { Verifier } from '../verifier.js';
import { apiTokenStatus, effectiveExpiry } from '../../../api-tokens/status.js';

/** What the verifier needs from ApiTokens (tests can wrap it to count lookups). */
export interface ApiTokenLookup {
  findByToken(secret: string): Promise<ApiTokenRecord | undefined>;
  touch(id: string, ip: string, timeMs: number): void;
}

/**
 * The Identity a token acts with. A token carries no groups of its own: it has the owner's groups
 * as they were when it was minted (from the creator's JWT, or --groups on the CLI). The authorize
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

export function apiTokenVerifier(store: ApiTokenLookup, clock: Clock): Verifier {
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
      const now = clock.now();
      const status = apiTokenStatus(rec, now, cfg.maxLifetimeDays);
      if (status === 'revoked') throw new SidecarError('token_revoked', { rule: 'api-token:revoked', detail: `token ${rec.id}` });
      if (status === 'expired') throw new SidecarError('token_expired', { rule: 'api-token:expiry', detail: `token ${rec.id}` });
      // POST /api/test ('test') must not change anything, last-used included.
      if (mode === 'proxy') store.touch(rec.id, state.clientIp ?? state.facts.peerIp, now);
      return apiTokenIdentity(rec, effectiveExpiry(rec, cfg.maxLifetimeDays));
    },
  };
}
