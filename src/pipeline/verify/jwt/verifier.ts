// The JWT verifier: picks the issuer by the token's (unverified) iss, verifies the signature with
// that issuer's key source and algorithm allow-list, checks aud/exp/nbf/required claims with jose,
// then maps the claims to an Identity (claims.ts). The signature is checked synchronously with
// node:crypto (signature.ts): a forged token is refused for the cost of one public-key operation,
// and a good one has its claims validated by jose's own claims check (claimsOfVerified) without a
// second signature check. A token that check does not apply to is verified in full by jwtVerify.
// Verified identities are cached by the SHA-256 of the token until min(exp, now +
// keyCache.maxAgeSec) so a removed key stops being trusted within maxAge; the cache is emptied on
// every config reload.
import { UnsecuredJWT, jwtVerify, type JWTClaimVerificationOptions, type JWTPayload } from 'jose';
import type { Clock } from '../../../clock.js';
import type { Policy } from '../../../config/policy.js';
import { SidecarError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Credential, Identity, RequestState } from '../../state.js';
import type { Verifier } from '../verifier.js';
import { withoutClaims, type CachedVerdict, type HandoverCache } from '../handover.js';
import { TokenCache, tokenHash } from '../token-cache.js';
import { identityFromClaims } from './claims.js';
import { modesOf } from '../../enforcement/modes.js';
import { decodeCompactJwt, type DecodedJwt } from './compact.js';
import { DiscoverySource } from './discovery.js';
import { compiledIssuers, pickIssuer, type CompiledIssuer } from './issuers.js';
import { JiraGroupLookup } from './jira-groups.js';
import { JwksSource } from './jwks.js';
import type { FetchLike, KeySource, KeySourceStatus, VerificationKey } from './key-source.js';
import { PemSource } from './pem.js';
import { primeKeyObject, verifySignatureSync } from './signature.js';
import { warmupKeys, type WarmupKeys } from './warm-up.js';

export interface JwtVerifierDeps {
  clock: Clock;
  logger?: Logger;
  fetch: FetchLike;
  getPolicy(): Policy;
  groups?: JiraGroupLookup;
  /** Times the key, discovery and Jira group calls (sidecar_idp_request_duration_seconds). */
  metrics?: Pick<Metrics, 'idpRequests'>;
}

const invalid = (rule: string, detail: string) => new SidecarError('token_invalid', { rule, detail });
/**
 * The refusal of a signature that does not verify, found by node:crypto (verifySignatureSync) or by
 * jose (mapJoseError; its detail is jose's code and message, this text). One frozen instance, thrown
 * and remembered for every such token: a flood of never-seen forgeries allocates no error per
 * request, and the refusal cache holds a reference instead of an object of its own per token (what
 * it keeps for a minute is promoted to the old generation, which every major GC walks).
 */
const SIGNATURE_REFUSED = Object.freeze(invalid('signature', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED: signature verification failed'));

/**
 * How long a token whose signature did not verify with the issuer's key (or that had expired) is
 * refused from memory, by its hash: a client retrying the same bad token costs no RSA verification.
 * Short, so a key replaced under the same kid is picked up quickly; a never-seen forged token still
 * costs one verification.
 */
const REFUSAL_CACHE_MS = 60_000;
/** Entries of the refusal cache (separate from the positive cache, so a flood of forgeries cannot evict valid tokens). */
const REFUSAL_CACHE_SIZE = 10_000;

/** base64url of {"alg":"none"}: the header of the unsecured JWT claimsOfVerified hands to jose. */
const NONE_HEADER = Buffer.from('{"alg":"none"}').toString('base64url');

/**
 * The claims of a compact JWS whose signature node:crypto has verified (verifySignatureSync true),
 * validated by jose: its payload segment, exactly as signed, goes to jose's UnsecuredJWT.decode,
 * which runs the claims check jwtVerify runs after its signature check (lib/jwt_claims_set.js
 * validateClaimsSet: exp, nbf, aud, required claims, clock tolerance; the header only matters for a
 * typ option, which we do not set). jwtVerify's header checks are ours before this: any crit (and so
 * b64:false) refused, alg on the issuer's allow-list, a key that fits the alg (signature.ts).
 * Measured in-process: 4 against 72-86 µs of CPU for jwtVerify, which checks the signature a second
 * time as an async WebCrypto job. Throws jose's claim errors (mapJoseError).
 */
export function claimsOfVerified(encodedPayload: string, checks: JWTClaimVerificationOptions): JWTPayload {
  return UnsecuredJWT.decode(`${NONE_HEADER}.${encodedPayload}.`, checks).payload;
}

/** jose errors -> our codes. Expiry is told apart; every other failure is just "invalid". */
export function mapJoseError(e: unknown): SidecarError {
  if (e instanceof SidecarError) return e;
  const code = (e as { code?: string }).code ?? '';
  const claim = (e as { claim?: string }).claim;
  const detail = `${code || (e as Error).name}: ${(e as Error).message}`.slice(0, 300);
  if (code === 'ERR_JWT_EXPIRED') return new SidecarError('token_expired', { rule: 'exp', detail });
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return SIGNATURE_REFUSED;
  if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') return invalid('algorithms', detail);
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return invalid(claim ?? 'claims', detail);
  return invalid('jwt', detail);
}

export class JwtVerifier implements Verifier, HandoverCache {
  readonly kind = 'jwt' as const;
  private readonly sources = new Map<string, KeySource>();
  private readonly cache: TokenCache<Identity>;
  private readonly refusals = new TokenCache<SidecarError>(() => REFUSAL_CACHE_SIZE);
  /** While the start-up warm-up runs: its throw-away key (warm-up.ts), for requests it marked only. */
  private warmup?: WarmupKeys;
  readonly groups: JiraGroupLookup;

  constructor(private readonly d: JwtVerifierDeps) {
    this.cache = new TokenCache<Identity>(() => d.getPolicy().config.jwt.cacheSize);
    this.groups = d.groups ?? new JiraGroupLookup(d.fetch, d.clock, d.metrics);
  }

  /** The key source of an issuer; kept across reloads while its keys/keyCache settings are unchanged. */
  sourceFor(issuer: CompiledIssuer): KeySource {
    let s = this.sources.get(issuer.keySourceId);
    if (!s) {
      const { keys, keyCache } = issuer.cfg;
      const common = { ...keyCache, fetch: this.d.fetch, clock: this.d.clock, logger: this.d.logger, metrics: this.d.metrics };
      if (keys.jwksUri) s = new JwksSource({ ...common, url: keys.jwksUri });
      else if (keys.discovery) s = new DiscoverySource({ ...common, url: keys.discovery });
      else if (keys.publicKeyPem) s = new PemSource(keys.publicKeyPem, 'publicKey');
      else s = new PemSource(keys.certificatePem ?? '', 'certificate');
      this.sources.set(issuer.keySourceId, s);
    }
    return s;
  }

  verify(credential: Credential, st: RequestState): Identity | Promise<Identity> {
    const token = credential.secret ?? '';
    const policy = st.policy;
    const now = this.d.clock.now();
    const hash = tokenHash(token);
    const cached = this.cache.get(hash, policy.version, now);
    // A cache hit answers synchronously (the common case: no promise, no microtask hop).
    if (cached) return { ...cached, groups: [...cached.groups], roles: [...cached.roles] };
    // A remembered refusal is thrown synchronously too: a throw out of an async function costs a
    // rejected promise and several µs more, and repeated bad tokens are the attack case.
    const refused = this.refusals.get(hash, policy.version, now);
    if (refused) throw refused;
    return this.verifyMiss(token, hash, policy, now, st.warmup === true);
  }

  private async verifyMiss(token: string, hash: string, policy: Policy, now: number, warmup: boolean): Promise<Identity> {
    try {
      return await this.verifyUncached(token, hash, policy, now, warmup);
    } catch (e) {
      // Only verdicts no key refresh can change: a signature that failed with the key for its kid, or expiry.
      const settled = e instanceof SidecarError && (e.code === 'token_expired' || (e.code === 'token_invalid' && e.rule === 'signature'));
      if (settled && policy.config.jwt.cacheSize > 0) this.refusals.set(hash, e, now + REFUSAL_CACHE_MS, policy.version, now);
      throw e;
    }
  }

  private async verifyUncached(token: string, hash: string, policy: Policy, now: number, warmup: boolean): Promise<Identity> {
    let decoded: DecodedJwt;
    try {
      decoded = decodeCompactJwt(token);
    } catch (e) {
      throw invalid('jwt', `not a decodable JWT: ${(e as Error).message}`);
    }
    const { header, payload: unverified } = decoded;
    // RFC 7515 §4.1.11: a recipient must reject a JWS whose crit lists extensions it does not
    // understand; we understand none, so any crit is refused (this also refuses b64:false, RFC 7797).
    if ('crit' in header) throw invalid('crit', 'crit header present');
    // RFC 8725 §3.1/§3.2: never "none", never a MAC (an HMAC keyed with a public key is the classic forgery).
    if (typeof header.alg !== 'string' || header.alg === 'none' || /^HS/i.test(header.alg)) throw invalid('algorithms', `alg ${String(header.alg)} is never accepted`);

    const match = pickIssuer(compiledIssuers(policy), unverified.iss);
    if (!match) throw new SidecarError('issuer_unknown', { rule: 'issuer', detail: `iss ${JSON.stringify(String(unverified.iss ?? '(none)')).slice(0, 200)} is not configured` });
    const { issuer } = match;
    const cfg = issuer.cfg;
    if (!(cfg.algorithms as string[]).includes(header.alg)) throw invalid('algorithms', `alg ${header.alg} is not in jwt.issuers[${cfg.name}].algorithms`);

    // A request the start-up warm-up marked is checked with its throw-away key only (never the IdP's).
    const source = warmup && this.warmup ? this.warmup.source : this.sourceFor(issuer);
    // The key is chosen once, from kid/alg of the protected header (key-source.ts), and both checks use it.
    const dot1 = token.indexOf('.');
    const dot2 = token.indexOf('.', dot1 + 1);
    const jws = { protected: token.slice(0, dot1), payload: token.slice(dot1 + 1, dot2), signature: token.slice(dot2 + 1) };
    let key: VerificationKey;
    try {
      key = await source.getKey(header, jws);
    } catch (e) {
      throw mapJoseError(e);
    }
    // false refuses now, exactly as jose would; true: the signature is good, jose checks the claims;
    // undefined (not applicable): jose verifies it all.
    const signature = verifySignatureSync(header.alg, key, token);
    if (signature === false) throw SIGNATURE_REFUSED;
    const claimChecks: JWTClaimVerificationOptions = {
      audience: issuer.audiences,
      clockTolerance: cfg.clockToleranceSec,
      currentDate: new Date(now),
      requiredClaims: [...cfg.requiredClaims],
    };
    let payload: JWTPayload;
    try {
      if (signature === true) payload = claimsOfVerified(jws.payload, claimChecks);
      else ({ payload } = await jwtVerify(token, key, { ...claimChecks, algorithms: [...cfg.algorithms] }));
    } catch (e) {
      throw mapJoseError(e);
    }

    // clientAcl in report mode: a listed jiraAccounts client passes here and authorize reports the ACL.
    const r = identityFromClaims(payload, match, modesOf(policy).modeOf('clientAcl', cfg.name) === 'report');
    if (!r.ok) throw new SidecarError(r.code, { rule: r.rule, detail: r.detail, message: r.message });
    const identity = r.identity;
    let untilMs = Math.min(typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity, now + cfg.keyCache.maxAgeSec * 1000);
    if (r.overage) {
      if (cfg.groupsOverage === 'deny') {
        throw new SidecarError('groups_overage', { rule: 'groups-overage', detail: `issuer ${cfg.name}: groups overage marker and groupsOverage is "deny"` });
      }
      const fromJira = await this.groups.groupsOf(identity.username, policy);
      identity.groups = [...new Set([...identity.groups, ...fromJira])];
      untilMs = Math.min(untilMs, now + policy.config.jiraGroupLookup.cacheSec * 1000);
    }
    this.cache.set(hash, identity, untilMs, policy.version, now);
    return { ...identity, groups: [...identity.groups], roles: [...identity.roles] };
  }

  /** Readiness: every configured issuer has usable keys (a source without keys is asked once more). */
  async readiness(policy: Policy): Promise<KeySourceStatus> {
    const problems: string[] = [];
    for (const issuer of compiledIssuers(policy)) {
      const s = this.sourceFor(issuer);
      if (!s.status().ok) await s.warm();
      const st = s.status();
      if (!st.ok) problems.push(`issuer ${issuer.name}: ${st.detail}`);
    }
    return problems.length ? { ok: false, detail: problems.join('; ') } : { ok: true, detail: `${compiledIssuers(policy).length} issuer(s) with keys` };
  }

  /**
   * Start-up warm-up (http/warm-up.ts): every issuer's keys fetched (as readiness does) and imported
   * for its algorithms, then `count` tokens of a throw-away key for the requests the warm-up sends
   * itself, accepted for requests it marked only, until endWarmup.
   */
  async beginWarmup(policy: Policy, count: number): Promise<string[] | undefined> {
    for (const issuer of compiledIssuers(policy)) {
      const s = this.sourceFor(issuer);
      await s.warm();
      await s.prime?.(issuer.cfg.algorithms, primeKeyObject);
    }
    this.warmup = await warmupKeys(compiledIssuers(policy), this.d.clock, count, policy.config.access.allowedGroups[0]);
    return this.warmup?.tokens;
  }

  /** The warm-up is over: its key is forgotten and so is every result cached meanwhile (its tokens' among them). */
  endWarmup(): void {
    if (!this.warmup) return;
    this.warmup = undefined;
    this.cache.clear();
    this.refusals.clear();
  }

  /**
   * The verdicts cached under this policy and still valid at `now`, most recently used first: what a
   * stopping sidecar hands to the next start (handover.ts). Raw claims are left out (they are for the
   * admin test page and are not written to the store); the entry's own bound (untilMs) goes along.
   */
  handoverOut(policy: Policy, now: number): CachedVerdict[] {
    // Stopped during the start-up warm-up: the cache holds the throw-away key's verdicts; nothing goes.
    if (this.warmup) return [];
    return this.cache.entries(policy.version, now).map(({ hash, value, untilMs }) => ({ hash, identity: withoutClaims(value), untilMs }));
  }

  /**
   * Verdicts a stopped sidecar handed over (most recently used first), cached under this policy until
   * their own untilMs, at most jwt.cacheSize of them (TokenCache.restore); answers how many were
   * taken. The caller passes verdicts still valid at `now` (VerdictStore.load answers no other; the
   * cache would not keep one) and judged by the same settings (handover.ts).
   */
  handoverIn(verdicts: readonly CachedVerdict[], policy: Policy, now: number): number {
    return this.cache.restore(verdicts.map((v) => ({ hash: v.hash, value: v.identity, untilMs: v.untilMs })), policy.version, now);
  }

  /** Each issuer's key source as it is now (the admin Status page); fetches nothing. */
  issuerKeys(policy: Policy): Array<{ issuer: string; source: string } & KeySourceStatus> {
    return compiledIssuers(policy).map((issuer) => {
      const s = this.sourceFor(issuer);
      return { issuer: issuer.name, source: s.description, ...s.status() };
    });
  }

  /** A new config: results judged by the old one are dropped; sources no issuer uses are closed. */
  onReload(policy: Policy): void {
    this.cache.clear();
    this.refusals.clear();
    this.groups.clear();
    const used = new Set(compiledIssuers(policy).map((i) => i.keySourceId));
    for (const id of [...this.sources.keys()]) if (!used.has(id)) this.sources.delete(id);
    this.warmAll(policy);
  }

  /** Fetch every issuer's keys in the background (startup, reload) so the first request does not wait. */
  warmAll(policy: Policy): void {
    for (const issuer of compiledIssuers(policy)) void this.sourceFor(issuer).warm();
  }

  get cacheSize(): number {
    return this.cache.size;
  }
}
