// Verdict handover (jwt.cacheHandover, introspection.cacheHandover): a sidecar that stops gracefully
// writes its caches of verified tokens to the store (store/verdict-store.ts), and the next start
// reads them back before /readyz says ready. A rolling restart then does not judge again, under its
// first load, every token its callers hold: for a JWT one public-key operation and the claims check
// (≈ 55 µs on the event loop, with 1,000 callers the larger part of the first second's excess); for
// an opaque token a round trip to the introspection endpoint, which each caller's first request
// waited for, and which a thousand callers sent to the IdP at once.
//
// What is written is what the in-memory cache holds, with the same bounds: keyed by the SHA-256 of
// the token (never the token), the verified identity without the raw claims (or the introspection
// answer), until the entry's own untilMs (a JWT: min(exp, verified + keyCache.maxAgeSec), so a key
// removed from the issuer's set stops being trusted within maxAge, across a restart as without one;
// an introspection answer: min(exp, answered + introspection.cacheSec), so a revoked token is
// refused as soon as without a restart). A verdict is read back only under the kind and the
// fingerprint it was written with: the sidecar's version and the settings that decide whether a
// token is accepted and which identity it maps to (no secret goes into a fingerprint). Any change
// there, or an upgrade, and the next start judges every token again. Only active introspection
// answers are handed over: a refusal is asked again, which can only refuse or allow what the IdP
// says now. A store that fails either way costs only the handover: the tokens are then judged as if
// never seen.
import { createHash } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/schema.js';
import type { Policy } from '../../config/policy.js';
import type { Logger } from '../../log.js';
import type { HandedVerdict, VerdictKind, VerdictStore } from '../../store/verdict-store.js';
import { VERSION } from '../../version.js';
import type { Identity } from '../state.js';

/** The most rows the store keeps of one kind (replicas that stop together each add theirs). */
const KEEP_ROWS = 1_000_000;

/** One verified token in a cache: what crosses a restart. */
export interface CachedVerdict {
  hash: string;
  identity: Identity;
  untilMs: number;
}

/** An identity as it crosses a restart: without the raw claims (or the IdP's answer), which stay for the admin test page. */
export const withoutClaims = ({ claims: _claims, ...identity }: Identity): Identity => identity;

/** A verifier whose cache can be handed over (JwtVerifier, IntrospectionVerifier). */
export interface HandoverCache {
  /** The cached verdicts valid under this policy at `now`, most recently used first, without raw claims. */
  handoverOut(policy: Policy, now: number): CachedVerdict[];
  /** Verdicts handed over (most recently used first, valid at `now`) into the cache; answers how many were taken. */
  handoverIn(verdicts: readonly CachedVerdict[], policy: Policy, now: number): number;
}

/** One kind of handed-over verdict: its setting, what its verdicts depend on, and the identities it takes. */
export interface HandoverKind {
  kind: VerdictKind;
  /** The log lines' noun. */
  what: string;
  setting: string;
  /** The setting is on and the cache can hold anything. */
  on(c: Config): boolean;
  /** Anything to take over at all (issuers configured, introspection enabled). */
  inUse(c: Config): boolean;
  /** The digest a verdict is bound to: the version and the settings that judged it, never a secret. */
  fingerprint(c: Pick<Config, 'jwt' | 'introspection' | 'enforcement'>, version?: string): string;
  /** How many verdicts the cache takes. */
  limit(c: Config): number;
}

const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('base64url');

export const JWT_HANDOVER: HandoverKind = {
  kind: 'jwt',
  what: 'JWT verdicts',
  setting: 'jwt.cacheHandover',
  on: (c) => c.jwt.cacheHandover && c.jwt.cacheSize > 0,
  inUse: (c) => c.jwt.issuers.length > 0,
  // The jwt settings hold no secret (keys are public, JWKS and discovery are URLs).
  fingerprint: (c, version = VERSION) => digest({ version, jwt: c.jwt, enforcement: c.enforcement }),
  limit: (c) => c.jwt.cacheSize,
};

/** IntrospectionVerifier's cache bound. */
export const INTROSPECTION_CACHE_ENTRIES = 10_000;

export const INTROSPECTION_HANDOVER: HandoverKind = {
  kind: 'introspection',
  what: 'introspection answers',
  setting: 'introspection.cacheHandover',
  on: (c) => c.introspection.cacheHandover && c.introspection.cacheSec > 0,
  inUse: (c) => c.introspection.enabled,
  // The endpoint, the client and the fields read decide the identity; the client's secret and
  // private key only prove the client to the IdP, and stay out of the store (a digest over a secret
  // is something to guess it against).
  fingerprint: (c, version = VERSION) => {
    const { clientSecret: _secret, privateKeyPem: _key, ...introspection } = c.introspection;
    return digest({ version, introspection, enforcement: c.enforcement });
  },
  limit: () => INTROSPECTION_CACHE_ENTRIES,
};

/**
 * A stored identity read back: the fields of an identity of this source (a JWT's or an
 * introspection answer's) with their types, else undefined (the row is skipped).
 */
export function parseHandedIdentity(text: string, source: 'jwt' | 'introspection' = 'jwt'): Identity | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = v as Partial<Identity> | null;
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  const optString = (x: unknown) => x === undefined || typeof x === 'string';
  if (!o || typeof o !== 'object' || typeof o.username !== 'string' || !o.username || o.source !== source) return undefined;
  if (!strings(o.groups) || !strings(o.roles) || typeof o.isServicePrincipal !== 'boolean' || typeof o.issuer !== 'string' || !optString(o.clientId)) return undefined;
  if (o.expiresAt !== undefined && typeof o.expiresAt !== 'number') return undefined;
  // An introspection answer's identity is always this (verify/introspection/verifier.ts): a row saying
  // otherwise (another issuer's identity-forwarding mode, a service principal) is not one.
  if (source === 'introspection' && (o.issuer !== 'introspection' || o.isServicePrincipal)) return undefined;
  // Only what a verified identity of this source carries, built in the verifiers' order (the hot
  // path then sees one object shape): an API token's fields never come in this way, and the raw
  // claims stay out.
  const identity: Identity = { username: o.username, source, groups: o.groups!, roles: o.roles!, issuer: o.issuer, isServicePrincipal: o.isServicePrincipal, claims: undefined };
  if (o.clientId !== undefined) identity.clientId = o.clientId;
  if (o.expiresAt !== undefined) identity.expiresAt = o.expiresAt;
  return identity;
}

/** On a graceful stop: the cached verdicts to the store. Answers how many were written. */
export async function saveHandover(k: HandoverKind, cache: HandoverCache, store: VerdictStore, policy: Policy, now: number): Promise<number> {
  const verdicts: HandedVerdict[] = cache.handoverOut(policy, now).map((v) => ({ hash: v.hash, identity: JSON.stringify(v.identity), untilMs: v.untilMs }));
  await store.save(k.kind, k.fingerprint(policy.config), verdicts, { now, keep: KEEP_ROWS });
  return verdicts.length;
}

/** At start, before ready: the verdicts a stopped sidecar of the same settings handed over, into the cache. */
export async function loadHandover(k: HandoverKind, cache: HandoverCache, store: VerdictStore, policy: Policy, now: number): Promise<{ loaded: number; skipped: number }> {
  // The store answers rows of this kind and fingerprint still valid at `now` only (VerdictStore.load).
  const rows = await store.load(k.kind, k.fingerprint(policy.config), { now, limit: k.limit(policy.config) });
  const verdicts: CachedVerdict[] = [];
  let skipped = 0;
  for (const r of rows) {
    const identity = parseHandedIdentity(r.identity, k.kind);
    if (identity && /^[A-Za-z0-9_-]{43}$/.test(r.hash)) verdicts.push({ hash: r.hash, identity, untilMs: r.untilMs });
    else skipped++;
  }
  return { loaded: cache.handoverIn(verdicts, policy, now), skipped };
}

/**
 * One kind's handover across one process's life, wired by auth-services.ts: `load` before ready,
 * `onReload` after every config swap, `save` at the stop. A reload once the stored verdicts were
 * read (SIGHUP, POST /api/reload, a saved config: what an admin does to drop every cached verdict)
 * removes them from the store too, so the next start cannot bring back what the reload dropped from
 * memory. Failures are logged; the tokens are then judged as if never seen.
 */
export class VerdictHandover {
  private read = false;
  private cleared: Promise<void> | undefined;
  /** What the start took over (the Status page), once it has read the store. */
  private taken: { loaded: number; skipped: number; at: number } | undefined;

  constructor(
    private readonly k: HandoverKind,
    private readonly cache: HandoverCache,
    private readonly store: VerdictStore,
    private readonly d: { getPolicy(): Policy; clock: Clock; logger: Logger },
  ) {}

  async load(): Promise<void> {
    const policy = this.d.getPolicy();
    try {
      if (!this.k.on(policy.config) || !this.k.inUse(policy.config)) return;
      const started = performance.now();
      const at = this.d.clock.now();
      const r = await loadHandover(this.k, this.cache, this.store, policy, at);
      this.taken = { ...r, at };
      this.d.logger.info({ kind: this.k.kind, ...r, ms: Math.round(performance.now() - started) }, `${this.k.what} taken over from the last stop`);
    } finally {
      this.read = true;
    }
  }

  /** For the Status page: the setting, whether it is in effect now, and what the start took over. */
  status(): { kind: VerdictKind; setting: string; on: boolean; loaded: number | null; skipped: number | null; at: number | null } {
    const c = this.d.getPolicy().config;
    const t = this.taken;
    return { kind: this.k.kind, setting: this.k.setting, on: this.k.on(c) && this.k.inUse(c), loaded: t?.loaded ?? null, skipped: t?.skipped ?? null, at: t?.at ?? null };
  }

  onReload(): void {
    if (!this.read) return;
    this.cleared = this.store.clear(this.k.kind).then(
      (removed) => void (removed && this.d.logger.info({ kind: this.k.kind, removed }, `${this.k.what} handed over earlier removed from the store (configuration reloaded)`)),
      (e: unknown) => this.d.logger.warn({ kind: this.k.kind, err: e }, `${this.k.what} handed over earlier could not be removed from the store`),
    );
  }

  /** Turned off (or no cache), a stop removes what an earlier one left. */
  async save(): Promise<void> {
    await this.cleared;
    const policy = this.d.getPolicy();
    try {
      if (!this.k.on(policy.config)) {
        const removed = await this.store.clear(this.k.kind);
        if (removed) this.d.logger.info({ kind: this.k.kind, removed }, `${this.k.what} of an earlier stop removed (${this.k.setting} is off)`);
        return;
      }
      const started = performance.now();
      const saved = await saveHandover(this.k, this.cache, this.store, policy, this.d.clock.now());
      this.d.logger.info({ kind: this.k.kind, saved, ms: Math.round(performance.now() - started) }, `${this.k.what} handed over to the next start`);
    } catch (e) {
      this.d.logger.warn({ kind: this.k.kind, err: e }, `${this.k.what} not handed over; the next start judges every token again`);
    }
  }
}
