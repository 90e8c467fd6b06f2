// Where an issuer's verification keys come from. Implementations: jwks.ts (cached, refetched on an
// unknown kid at most once per cooldown), discovery.ts (OIDC discovery -> jwks_uri), pem.ts (a public
// key or an X.509 certificate). Keys are chosen from the kid/alg of the protected header only: the
// jku, x5u, jwk and x5c header parameters are attacker-controlled and never consulted (RFC 8725 §3.10).
import type { CryptoKey, FlattenedJWSInput, JWSHeaderParameters, KeyObject } from 'jose';

export type VerificationKey = CryptoKey | KeyObject;

/** A fetch as used by key sources and introspection (global fetch by default; tests inject one). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface KeySourceStatus {
  ok: boolean;
  detail?: string;
  /** When the keys in use were fetched (epoch ms; absent for keys from the config, such as PEM). */
  fetchedAt?: number;
}

export interface KeySource {
  /** For readiness and logs ("jwks https://idp/keys"). */
  readonly description: string;
  /**
   * jose's getKey: the key for this header. Throws SidecarError auth_unavailable when the source is
   * needed and cannot answer, token_invalid when it answered and has no such key.
   */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<VerificationKey>;
  /** Usable keys right now (readiness). */
  status(): KeySourceStatus;
  /** Fetch keys if none are usable yet (respects the cooldown); never throws. */
  warm(): Promise<void>;
  /**
   * Import the keys it has now for these algorithms (start-up warm-up: the first token of each key
   * pays no import); fetches nothing, never throws. `use` is handed every imported key.
   */
  prime?(algorithms: readonly string[], use?: (key: VerificationKey, alg: string) => void): Promise<void>;
}

export interface KeyCacheSettings {
  maxAgeSec: number;
  cooldownSec: number;
  timeoutMs: number;
}
