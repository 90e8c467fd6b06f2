// Verdict handover (jwt.cacheHandover): a sidecar that stops gracefully writes its cache of verified
// JWTs to the store (store/verdict-store.ts), and the next start reads it back before /readyz says
// ready. A rolling restart then does not verify again, under its first load, every token its callers
// hold (each one public-key operation and the claims check: ≈ 55 µs on the event loop, with 1,000
// callers the larger part of the first second's excess).
//
// What is written is what the in-memory cache holds, with the same bounds: keyed by the SHA-256 of
// the token (never the token), the verified identity without the raw claims, until the entry's own
// untilMs (min(exp, verified + keyCache.maxAgeSec): a key removed from the issuer's set stops being
// trusted within maxAge, across a restart as without one). A verdict is read back only under the
// fingerprint it was written with: the sidecar's version and its jwt and enforcement settings (what
// decides whether a token verifies and which identity it maps to). Any change there, or an upgrade,
// and the next start verifies every token again. A store that fails either way costs only the
// handover: the tokens are then verified as if never seen.
import { createHash } from 'node:crypto';
import type { Clock } from '../../../clock.js';
import type { Config } from '../../../config/schema.js';
import type { Policy } from '../../../config/policy.js';
import type { Logger } from '../../../log.js';
import type { HandedVerdict, VerdictStore } from '../../../store/verdict-store.js';
import { VERSION } from '../../../version.js';
import type { Identity } from '../../state.js';
import type { JwtVerifier } from './verifier.js';

/** The most rows the store keeps (replicas that stop together each add theirs): jwt.cacheSize's own bound. */
const KEEP_ROWS = 1_000_000;

/** What a verdict depends on: the version (the code that judged it) and the jwt and enforcement settings. No secret is in either. */
export function verdictFingerprint(config: Pick<Config, 'jwt' | 'enforcement'>, version = VERSION): string {
  return createHash('sha256').update(JSON.stringify({ version, jwt: config.jwt, enforcement: config.enforcement })).digest('base64url');
}

/** A stored identity read back: the fields of a JWT identity with their types, else undefined (the row is skipped). */
export function parseHandedIdentity(text: string): Identity | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = v as Partial<Identity> | null;
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  const optString = (x: unknown) => x === undefined || typeof x === 'string';
  if (!o || typeof o !== 'object' || typeof o.username !== 'string' || !o.username || o.source !== 'jwt') return undefined;
  if (!strings(o.groups) || !strings(o.roles) || typeof o.isServicePrincipal !== 'boolean' || typeof o.issuer !== 'string' || !optString(o.clientId)) return undefined;
  if (o.expiresAt !== undefined && typeof o.expiresAt !== 'number') return undefined;
  // Only what a verified JWT's identity carries, built in claims.ts's order (the hot path then sees
  // one object shape): an API token's fields never come in this way, and the raw claims stay out.
  const identity: Identity = { username: o.username, source: 'jwt', groups: o.groups!, roles: o.roles!, issuer: o.issuer, isServicePrincipal: o.isServicePrincipal, claims: undefined };
  if (o.clientId !== undefined) identity.clientId = o.clientId;
  if (o.expiresAt !== undefined) identity.expiresAt = o.expiresAt;
  return identity;
}

/** On a graceful stop: the cached verdicts to the store. Answers how many were written. */
export async function saveHandover(verifier: JwtVerifier, store: VerdictStore, policy: Policy, now: number): Promise<number> {
  const verdicts: HandedVerdict[] = verifier.handoverOut(policy, now).map((v) => ({ hash: v.hash, identity: JSON.stringify(v.identity), untilMs: v.untilMs }));
  await store.save(verdictFingerprint(policy.config), verdicts, { now, keep: KEEP_ROWS });
  return verdicts.length;
}

/** At start, before ready: the verdicts a stopped sidecar of the same settings handed over, into the cache. */
export async function loadHandover(verifier: JwtVerifier, store: VerdictStore, policy: Policy, now: number): Promise<{ loaded: number; skipped: number }> {
  // The store answers rows of this fingerprint still valid at `now` only (VerdictStore.load).
  const rows = await store.load(verdictFingerprint(policy.config), { now, limit: policy.config.jwt.cacheSize });
  const verdicts: Array<{ hash: string; identity: Identity; untilMs: number }> = [];
  let skipped = 0;
  for (const r of rows) {
    const identity = parseHandedIdentity(r.identity);
    if (identity && /^[A-Za-z0-9_-]{43}$/.test(r.hash)) verdicts.push({ hash: r.hash, identity, untilMs: r.untilMs });
    else skipped++;
  }
  return { loaded: verifier.handoverIn(verdicts, policy, now), skipped };
}

const handoverOn = (c: Pick<Config, 'jwt'>) => c.jwt.cacheHandover && c.jwt.cacheSize > 0;

/**
 * The handover across one process's life, wired by auth-services.ts: `load` before ready, `onReload`
 * after every config swap, `save` at the stop. A reload once the stored verdicts were read (SIGHUP,
 * POST /api/reload, a saved config: what an admin does to drop every cached verdict) removes them
 * from the store too, so the next start cannot bring back what the reload dropped from memory.
 * Failures are logged; the tokens are then verified as if never seen.
 */
export class VerdictHandover {
  private read = false;
  private cleared: Promise<void> | undefined;

  constructor(
    private readonly verifier: JwtVerifier,
    private readonly store: VerdictStore,
    private readonly d: { getPolicy(): Policy; clock: Clock; logger: Logger },
  ) {}

  async load(): Promise<void> {
    const policy = this.d.getPolicy();
    try {
      if (!handoverOn(policy.config) || policy.config.jwt.issuers.length === 0) return;
      const started = performance.now();
      const r = await loadHandover(this.verifier, this.store, policy, this.d.clock.now());
      this.d.logger.info({ ...r, ms: Math.round(performance.now() - started) }, 'JWT verdicts taken over from the last stop');
    } finally {
      this.read = true;
    }
  }

  onReload(): void {
    if (!this.read) return;
    this.cleared = this.store.clear().then(
      (removed) => void (removed && this.d.logger.info({ removed }, 'JWT verdicts handed over earlier removed from the store (configuration reloaded)')),
      (e: unknown) => this.d.logger.warn({ err: e }, 'JWT verdicts handed over earlier could not be removed from the store'),
    );
  }

  /** Turned off (or no cache), a stop removes what an earlier one left. */
  async save(): Promise<void> {
    await this.cleared;
    const policy = this.d.getPolicy();
    try {
      if (!handoverOn(policy.config)) {
        const removed = await this.store.clear();
        if (removed) this.d.logger.info({ removed }, 'JWT verdicts of an earlier stop removed (jwt.cacheHandover is off)');
        return;
      }
      const started = performance.now();
      const saved = await saveHandover(this.verifier, this.store, policy, this.d.clock.now());
      this.d.logger.info({ saved, ms: Math.round(performance.now() - started) }, 'JWT verdicts handed over to the next start');
    } catch (e) {
      this.d.logger.warn({ err: e }, 'JWT verdicts not handed over; the next start verifies every token again');
    }
  }
}
