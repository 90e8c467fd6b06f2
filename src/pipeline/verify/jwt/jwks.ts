// A JWKS URL as a key source. Keys are fetched once and served from memory; after maxAgeSec they are
// refreshed in the background while the old set keeps answering (so a slow IdP adds no latency). A
// token with an unknown kid triggers one synchronous refetch, at most once per cooldownSec, so a
// flood of made-up kids cannot hammer the IdP (the same rule as jose's createRemoteJWKSet). When the
// endpoint is down the last good keys stay in use; a kid they do not have is then answered with 503
// auth_unavailable (we cannot know it is bad), never with an allow.
import { createLocalJWKSet, type FlattenedJWSInput, type JSONWebKeySet, type JWK, type JWSHeaderParameters } from 'jose';
import type { Clock } from '../../../clock.js';
import { SidecarError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { observeIdpCall, type Metrics } from '../../metrics/metrics.js';
import { fetchJson, whyFetchFailed } from './fetch-json.js';
import type { FetchLike, KeyCacheSettings, KeySource, KeySourceStatus, VerificationKey } from './key-source.js';

export interface JwksSourceOptions extends KeyCacheSettings {
  url: string;
  fetch: FetchLike;
  clock: Clock;
  logger?: Logger;
  /** sidecar_idp_request_duration_seconds{kind="jwks"} */
  metrics?: Pick<Metrics, 'idpRequests'>;
  /**
   * Where the keys live now, asked at the start of every refresh but the first (discovery.ts re-reads
   * the discovery document, so a moved jwks_uri is followed). Resolves the URL to fetch; must not
   * reject: when it cannot tell, it resolves `current`.
   */
  locate?: (current: string) => Promise<string>;
}

const ASYMMETRIC = new Set(['RSA', 'EC', 'OKP']);

/**
 * Only public signing keys: symmetric ("oct") keys are dropped so a JWKS can never turn into an
 * HMAC secret, private members are dropped, and encryption keys are not signing keys.
 */
export function usableSigningKeys(body: Record<string, unknown>): JWK[] {
  if (!Array.isArray(body.keys)) throw new Error('JWKS has no "keys" array');
  const out: JWK[] = [];
  for (const k of body.keys as unknown[]) {
    if (!k || typeof k !== 'object') continue;
    const jwk = k as JWK;
    if (typeof jwk.kty !== 'string' || !ASYMMETRIC.has(jwk.kty)) continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if ('d' in jwk || 'p' in jwk || 'q' in jwk) continue;
    // x5c/x5u in a JWKS entry are informational here; the key is the JWK's own public parameters.
    const { x5u: _x5u, ...rest } = jwk as JWK & { x5u?: unknown };
    out.push(rest);
  }
  if (out.length === 0) throw new Error('JWKS has no usable public signing keys');
  return out;
}

export class JwksSource implements KeySource {
  private url: string;
  private keys?: ReturnType<typeof createLocalJWKSet>;
  private kids: string[] = [];
  private fetchedAt = -Infinity;
  private lastAttemptAt = -Infinity;
  private lastError?: string;
  private inflight?: Promise<boolean>;

  constructor(private readonly o: JwksSourceOptions) {
    this.url = o.url;
  }

  get description(): string {
    return `jwks ${this.url}`;
  }

  /** The URL keys are fetched from (changes only through `locate`). */
  get jwksUrl(): string {
    return this.url;
  }

  /** Fetches once (concurrent callers share it). Resolves true when keys were refreshed. */
  refresh(): Promise<boolean> {
    this.inflight ??= (async () => {
      // The first fetch follows the caller's own lookup (DiscoverySource just read the document), so
      // `locate` runs from the second one on: exactly as often as refreshes, never on its own timer.
      const relocate = this.o.locate !== undefined && this.lastAttemptAt !== -Infinity;
      this.lastAttemptAt = this.o.clock.now();
      // The URL is switched only together with its keys, so description and keys always match.
      let url = this.url;
      try {
        if (relocate) url = await this.o.locate!(url);
        const body = await observeIdpCall(this.o.metrics, 'jwks', () => fetchJson(this.o.fetch, url, this.o.timeoutMs));
        const keys = usableSigningKeys(body);
        this.url = url;
        this.keys = createLocalJWKSet({ keys } as JSONWebKeySet);
        this.kids = keys.map((k) => String(k.kid ?? '(no kid)'));
        this.fetchedAt = this.o.clock.now();
        this.lastError = undefined;
        return true;
      } catch (e) {
        this.lastError = whyFetchFailed(e, this.o.timeoutMs);
        this.o.logger?.warn({ jwks: url, err: this.lastError, keptKeys: this.kids.length }, 'JWKS fetch failed; keeping the last good keys');
        return false;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  private inCooldown(): boolean {
    return this.o.clock.now() - this.lastAttemptAt < this.o.cooldownSec * 1000;
  }

  private unavailable(why: string): SidecarError {
    return new SidecarError('auth_unavailable', { rule: 'jwks', detail: `${this.description}: ${why}` });
  }

  async getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<VerificationKey> {
    if (!this.keys) {
      if (this.inflight) await this.inflight;
      else if (!this.inCooldown()) await this.refresh();
      if (!this.keys) throw this.unavailable(this.lastError ?? 'no keys yet');
    } else if (this.o.clock.now() - this.fetchedAt >= this.o.maxAgeSec * 1000 && !this.inflight && !this.inCooldown()) {
      void this.refresh(); // stale-while-revalidate
    }
    try {
      return await this.keys!(header, token);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw e;
    }
    // Unknown kid: perhaps the IdP rotated. Refetch at most once per cooldown.
    if (this.inflight) await this.inflight;
    else if (!this.inCooldown()) await this.refresh();
    else if (this.lastError) throw this.unavailable(`unknown kid and the last fetch failed (${this.lastError})`);
    else throw new SidecarError('token_invalid', { rule: 'jwks', detail: `no key for kid ${JSON.stringify(String(header.kid ?? '')).slice(0, 80)}` });
    if (this.lastError) throw this.unavailable(`unknown kid and the endpoint did not answer (${this.lastError})`);
    try {
      return await this.keys!(header, token);
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY') {
        throw new SidecarError('token_invalid', { rule: 'jwks', detail: `no key for kid ${JSON.stringify(String(header.kid ?? '')).slice(0, 80)}` });
      }
      throw e;
    }
  }

  status(): KeySourceStatus {
    if (!this.keys) return { ok: false, detail: `${this.description}: no usable keys${this.lastError ? ` (${this.lastError})` : ''}` };
    return { ok: true, detail: `${this.description}: ${this.kids.length} key(s)${this.lastError ? `, last refresh failed (${this.lastError})` : ''}`, ...(Number.isFinite(this.fetchedAt) ? { fetchedAt: this.fetchedAt } : {}) };
  }

  async warm(): Promise<void> {
    if (this.keys) return;
    if (this.inflight) await this.inflight;
    else if (!this.inCooldown()) await this.refresh();
  }

  async prime(algorithms: readonly string[], use?: (key: VerificationKey, alg: string) => void): Promise<void> {
    const keys = this.keys;
    if (!keys) return;
    // The key set's own lookup (jose caches the import per key and alg); a key that does not fit an alg is skipped.
    const kids = new Set(this.kids);
    for (const kid of kids)
      for (const alg of algorithms) {
        try {
          use?.(await keys({ alg, ...(kid === '(no kid)' ? {} : { kid }) }), alg);
        } catch {
          /* no key of this kid for this alg */
        }
      }
  }

  /** Fetch counters for tests and metrics. */
  get keyIds(): readonly string[] {
    return this.kids;
  }
}
