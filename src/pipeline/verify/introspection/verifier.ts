// Opaque bearer tokens proven by OAuth 2.0 Token Introspection (RFC 7662): a POST of the token to
// the IdP, authenticated as a client (client_secret_basic, client_secret_post, or private_key_jwt
// signed with our key, RFC 7523 §2.2). active:false -> 401 token_inactive; an IdP that errors,
// answers garbage or does not answer in time -> 503 auth_unavailable, never an allow.
// Answers are cached by the token's SHA-256: positive ones until min(cacheSec, exp), negative ones
// negativeCacheSec (bounded by cacheSec), so a revoked token is refused again within that time.
import { createHash, createPrivateKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../../../clock.js';
import { perPolicy, type Policy } from '../../../config/policy.js';
import { SidecarError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { observeIdpCall, type Metrics } from '../../metrics/metrics.js';
import type { Credential, Identity, RequestState } from '../../state.js';
import type { Verifier } from '../verifier.js';
import { TokenCache, tokenHash } from '../token-cache.js';
import type { FetchLike } from '../jwt/key-source.js';
import { whyFetchFailed } from '../jwt/fetch-json.js';
import { timeoutSignal } from '../outbound.js';
import { INTROSPECTION_CACHE_ENTRIES, withoutClaims, type CachedVerdict, type HandoverCache } from '../handover.js';

export interface IntrospectionDeps {
  clock: Clock;
  logger?: Logger;
  fetch: FetchLike;
  /** sidecar_idp_request_duration_seconds{kind="introspection"} */
  metrics?: Pick<Metrics, 'idpRequests'>;
}

type Answer =
  | { active: true; identity: Identity }
  /** `untilMs`: a refusal that stops being true then (nbf reached) is cached no longer. */
  | { active: false; code: 'token_inactive' | 'token_expired' | 'token_invalid'; detail: string; untilMs?: number };

const MAX_BYTES = 256 * 1024;
const SAFE_USERNAME = /^[^\x00-\x1f\x7f]{1,255}$/;

interface SigningKey {
  key?: KeyObject;
  alg?: string;
  header: Record<string, string>;
  problem?: string;
}

function algFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec':
      return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? 'ES256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new Error(`unsupported private key type ${key.asymmetricKeyType}`);
  }
}

/** The private_key_jwt signing key, compiled once per policy; x5t / x5t#S256 identify the certificate to the IdP (Entra needs x5t). */
const signingKeyOf = perPolicy<SigningKey>((c) => {
  const i = c.introspection;
  if (i.clientAuth !== 'private_key_jwt' || !i.privateKeyPem) return { header: {} };
  try {
    const key = createPrivateKey(i.privateKeyPem);
    const header: Record<string, string> = {};
    if (i.certificatePem) {
      const der = new X509Certificate(i.certificatePem).raw;
      header.x5t = createHash('sha1').update(der).digest('base64url');
      header['x5t#S256'] = createHash('sha256').update(der).digest('base64url');
    }
    return { key, alg: algFor(key), header };
  } catch (e) {
    return { header: {}, problem: `introspection.privateKeyPem/certificatePem cannot be used: ${(e as Error).message}` };
  }
});

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length > 0) : typeof v === 'string' && v ? v.split(/[\s,]+/).filter(Boolean) : [];

/** RFC 6749 §2.3.1: client_id and secret are form-encoded before they are joined for Basic. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

export class IntrospectionVerifier implements Verifier, HandoverCache {
  readonly kind = 'opaque-bearer' as const;
  private readonly cache = new TokenCache<Answer>(() => INTROSPECTION_CACHE_ENTRIES);
  private readonly inflight = new Map<string, Promise<Answer>>();
  /**
   * The start-up warm-up (http/warm-up.ts): its requests are asked about at its own stand-in endpoint
   * on loopback, never at the IdP, and their answers are kept apart and forgotten when it ends.
   */
  private warmup: { endpoint: string; cache: TokenCache<Answer> } | undefined;

  constructor(private readonly d: IntrospectionDeps) {}

  /** From now until endWarmup, warm-up requests (state.warmup) are asked about at `endpoint` (the warm-up's stand-in). */
  beginWarmup(endpoint: string): void {
    this.warmup = { endpoint, cache: new TokenCache<Answer>(() => INTROSPECTION_CACHE_ENTRIES) };
  }

  /** The warm-up is over: its stand-in and every answer it gave are forgotten. */
  endWarmup(): void {
    this.warmup = undefined;
  }

  async verify(credential: Credential, st: RequestState): Promise<Identity> {
    const policy = st.policy;
    const cfg = policy.config.introspection;
    if (!cfg.enabled) throw new SidecarError('credential_kind_denied', { rule: 'introspection', detail: 'introspection is disabled' });
    // A warm-up request never reaches the IdP: the stand-in answers it, or nothing does.
    const warm = st.warmup ? this.warmup : undefined;
    if (st.warmup && !warm) throw new SidecarError('auth_unavailable', { rule: 'introspection', detail: 'start-up warm-up: no stand-in endpoint (the IdP is never asked)' });
    const cache = warm?.cache ?? this.cache;
    const token = credential.secret ?? '';
    const hash = tokenHash(token);
    let answer = cache.get(hash, policy.version, this.d.clock.now());
    if (!answer) {
      const key = `${warm ? 'warm-up:' : ''}${policy.version}:${hash}`;
      let p = this.inflight.get(key);
      if (!p) {
        p = this.introspect(token, policy, warm?.endpoint).finally(() => this.inflight.delete(key));
        this.inflight.set(key, p);
      }
      answer = await p;
      const now = this.d.clock.now();
      if (answer.active) {
        const exp = answer.identity.expiresAt;
        const until = Math.min(now + cfg.cacheSec * 1000, exp !== undefined ? exp * 1000 : Infinity);
        cache.set(hash, answer, until, policy.version, now);
      } else {
        cache.set(hash, answer, Math.min(now + Math.min(cfg.negativeCacheSec, cfg.cacheSec) * 1000, answer.untilMs ?? Infinity), policy.version, now);
      }
    }
    if (!answer.active) throw new SidecarError(answer.code, { rule: 'introspection', detail: answer.detail });
    return { ...answer.identity, groups: [...answer.identity.groups], roles: [...answer.identity.roles] };
  }

  /** One call to the endpoint (the configured one, or the warm-up's stand-in: `standIn`). */
  private async introspect(token: string, policy: Policy, standIn?: string): Promise<Answer> {
    const cfg = policy.config.introspection;
    const endpoint = standIn ?? cfg.endpoint ?? '';
    const unavailable = (why: string) => new SidecarError('auth_unavailable', { rule: 'introspection', detail: `${endpoint}: ${why}` });
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const clientId = cfg.clientId ?? '';
    if (cfg.clientAuth === 'client_secret_basic') {
      headers.authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(cfg.clientSecret ?? '')}`).toString('base64')}`;
    } else if (cfg.clientAuth === 'client_secret_post') {
      form.set('client_id', clientId);
      form.set('client_secret', cfg.clientSecret ?? '');
    } else {
      const sk = signingKeyOf(policy);
      if (!sk.key || !sk.alg) throw unavailable(sk.problem ?? 'no private key');
      const nowSec = Math.floor(this.d.clock.now() / 1000);
      // RFC 7523 §3: iss = sub = client_id, aud = the endpoint, short-lived, unique jti.
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: sk.alg, typ: 'JWT', ...sk.header })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(endpoint)
        .setJti(randomUUID())
        .setIssuedAt(nowSec)
        .setNotBefore(nowSec)
        .setExpirationTime(nowSec + 60)
        .sign(sk.key);
      form.set('client_id', clientId);
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', assertion);
    }
    let res: Response;
    let text: string;
    try {
      ({ res, text } = await observeIdpCall(
        standIn ? undefined : this.d.metrics, // the warm-up's calls are not the IdP's
        'introspection',
        async () => {
          const timeout = timeoutSignal(cfg.timeoutMs);
          try {
            const r = await this.d.fetch(endpoint, { method: 'POST', headers, body: form.toString(), signal: timeout.signal, redirect: 'error' });
            return { res: r, text: await r.text() };
          } finally {
            timeout.done();
          }
        },
        (a) => a.res.status === 200,
      ));
    } catch (e) {
      throw unavailable(whyFetchFailed(e, cfg.timeoutMs));
    }
    if (res.status !== 200) throw unavailable(`HTTP ${res.status}`);
    if (text.length > MAX_BYTES) throw unavailable('answer too large');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw unavailable('answer is not JSON');
    }
    if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.active !== 'boolean') throw unavailable('answer has no boolean "active" (RFC 7662 §2.2)');
    if (body.active !== true) return { active: false, code: 'token_inactive', detail: 'active: false' };
    const nowSec = this.d.clock.now() / 1000;
    // RFC 7662 §2.2: exp and nbf are NumericDates, judged as a JWT's are (jwt/verifier.ts): a
    // malformed one or a token not yet valid is token_invalid, and never cached as valid.
    for (const claim of ['exp', 'nbf'] as const) {
      if (body[claim] !== undefined && (typeof body[claim] !== 'number' || !Number.isFinite(body[claim]))) {
        return { active: false, code: 'token_invalid', detail: `active but "${claim}" is not a number` };
      }
    }
    const exp = body.exp as number | undefined;
    if (exp !== undefined && exp <= nowSec) return { active: false, code: 'token_expired', detail: 'active but exp is in the past' };
    const nbf = body.nbf as number | undefined;
    if (nbf !== undefined && nbf > nowSec + cfg.clockToleranceSec) {
      return { active: false, code: 'token_invalid', detail: 'active but nbf is in the future', untilMs: (nbf - cfg.clockToleranceSec) * 1000 };
    }
    const username = str(body[cfg.usernameField]);
    if (!username || !SAFE_USERNAME.test(username)) {
      throw new SidecarError('username_missing', { rule: 'usernameField', detail: `introspection answer has no usable ${cfg.usernameField}`, message: `The introspection answer has no ${cfg.usernameField}.` });
    }
    const identity: Identity = {
      username,
      source: 'introspection',
      groups: list(body[cfg.groupsField]),
      roles: list(body.roles),
      issuer: 'introspection',
      isServicePrincipal: false,
      claims: { ...body },
    };
    const client = str(body.client_id);
    if (client) identity.clientId = client;
    if (exp !== undefined) identity.expiresAt = exp;
    return { active: true, identity };
  }

  /**
   * The active answers cached under this policy and still valid at `now`, most recently used first:
   * what a stopping sidecar hands to the next start (handover.ts). Refusals stay behind (they are
   * asked again), and so does the IdP's answer itself (the admin test page's claims).
   */
  handoverOut(policy: Policy, now: number): CachedVerdict[] {
    return this.cache.entries(policy.version, now).flatMap(({ hash, value, untilMs }) => (value.active ? [{ hash, identity: withoutClaims(value.identity), untilMs }] : []));
  }

  /** Active answers a stopped sidecar handed over (most recently used first), cached under this policy until their own untilMs (TokenCache.restore). */
  handoverIn(verdicts: readonly CachedVerdict[], policy: Policy, now: number): number {
    return this.cache.restore(verdicts.map((v) => ({ hash: v.hash, value: { active: true as const, identity: v.identity }, untilMs: v.untilMs })), policy.version, now);
  }

  onReload(): void {
    this.cache.clear();
  }
}
