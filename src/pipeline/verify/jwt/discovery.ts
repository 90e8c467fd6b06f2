// OIDC discovery (OpenID Connect Discovery 1.0 §4) as a key source: the document's jwks_uri is
// resolved (retried at most once per cooldown while it fails), then served by a JwksSource. IdPs move
// jwks_uri when they rotate keys (Entra ID does), so every later key refresh (stale-while-revalidate
// after maxAgeSec, unknown-kid refetch after cooldownSec) reads the document again first and follows
// a new jwks_uri. If that read fails, the current jwks_uri and its keys stay: discovery being down
// never costs working keys.
import type { FlattenedJWSInput, JWSHeaderParameters } from 'jose';
import type { Clock } from '../../../clock.js';
import { SidecarError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { observeIdpCall, type Metrics } from '../../metrics/metrics.js';
import { fetchJson, whyFetchFailed } from './fetch-json.js';
import { JwksSource } from './jwks.js';
import type { FetchLike, KeyCacheSettings, KeySource, KeySourceStatus, VerificationKey } from './key-source.js';

export interface DiscoverySourceOptions extends KeyCacheSettings {
  /** The discovery document URL, or the issuer URL (".well-known/openid-configuration" is appended). */
  url: string;
  fetch: FetchLike;
  clock: Clock;
  logger?: Logger;
  /** sidecar_idp_request_duration_seconds{kind="discovery"}; the JwksSource it creates gets it too. */
  metrics?: Pick<Metrics, 'idpRequests'>;
}

/** "https://idp/realm" -> "https://idp/realm/.well-known/openid-configuration"; a .well-known URL is kept. */
export function discoveryDocumentUrl(url: string): string {
  if (url.includes('/.well-known/')) return url;
  return `${url.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

export class DiscoverySource implements KeySource {
  readonly description: string;
  private jwks?: JwksSource;
  private lastAttemptAt = -Infinity;
  private lastError?: string;
  /** Why the last re-read of the document (at a key refresh) failed; cleared by the next success. */
  private rediscoveryError?: string;
  private inflight?: Promise<void>;
  private readonly docUrl: string;

  constructor(private readonly o: DiscoverySourceOptions) {
    this.docUrl = discoveryDocumentUrl(o.url);
    this.description = `discovery ${this.docUrl}`;
  }

  /** One read of the document, checked the same way at start-up and at every refresh. */
  private async fetchJwksUri(): Promise<string> {
    const doc = await observeIdpCall(this.o.metrics, 'discovery', () => fetchJson(this.o.fetch, this.docUrl, this.o.timeoutMs));
    const uri = doc.jwks_uri;
    if (typeof uri !== 'string' || !/^https?:\/\//.test(uri)) throw new Error('discovery document has no http(s) jwks_uri');
    return uri;
  }

  /** JwksSource's `locate`: the document's jwks_uri now, or `current` when the document cannot be read. */
  private async relocate(current: string): Promise<string> {
    try {
      const uri = await this.fetchJwksUri();
      this.rediscoveryError = undefined;
      if (uri !== current) this.o.logger?.info({ discovery: this.docUrl, from: current, to: uri }, 'OIDC discovery moved jwks_uri; fetching keys from the new URL');
      return uri;
    } catch (e) {
      this.rediscoveryError = whyFetchFailed(e, this.o.timeoutMs);
      this.o.logger?.warn({ discovery: this.docUrl, err: this.rediscoveryError, jwks: current }, 'OIDC discovery failed; keeping the current jwks_uri');
      return current;
    }
  }

  private discover(): Promise<void> {
    this.inflight ??= (async () => {
      this.lastAttemptAt = this.o.clock.now();
      try {
        const uri = await this.fetchJwksUri();
        this.jwks = new JwksSource({ ...this.o, url: uri, locate: (current) => this.relocate(current) });
        this.lastError = undefined;
        await this.jwks.refresh();
      } catch (e) {
        this.lastError = whyFetchFailed(e, this.o.timeoutMs);
        this.o.logger?.warn({ discovery: this.docUrl, err: this.lastError }, 'OIDC discovery failed');
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  async getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<VerificationKey> {
    if (!this.jwks) {
      if (this.inflight) await this.inflight;
      else if (this.o.clock.now() - this.lastAttemptAt >= this.o.cooldownSec * 1000) await this.discover();
      if (!this.jwks) throw new SidecarError('auth_unavailable', { rule: 'discovery', detail: `${this.description}: ${this.lastError ?? 'not discovered yet'}` });
    }
    return this.jwks.getKey(header, token);
  }

  status(): KeySourceStatus {
    if (!this.jwks) return { ok: false, detail: `${this.description}: ${this.lastError ?? 'not discovered yet'}` };
    const s = this.jwks.status();
    // Readiness follows the keys; a failed re-read only shows in the detail (the keys still work).
    const stale = this.rediscoveryError ? ` (last discovery failed: ${this.rediscoveryError})` : '';
    return { ok: s.ok, detail: `${this.description}${stale} -> ${s.detail}`, ...(s.fetchedAt !== undefined ? { fetchedAt: s.fetchedAt } : {}) };
  }

  async warm(): Promise<void> {
    if (!this.jwks) {
      if (this.inflight) await this.inflight;
      else if (this.o.clock.now() - this.lastAttemptAt >= this.o.cooldownSec * 1000) await this.discover();
      return;
    }
    await this.jwks.warm();
  }

  async prime(algorithms: readonly string[], use?: (key: VerificationKey, alg: string) => void): Promise<void> {
    await this.jwks?.prime(algorithms, use);
  }
}
