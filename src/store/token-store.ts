// API tokens at rest: the interface both backends implement (sqlite/tokens.ts, postgres/tokens.ts),
// its records, and nothing else. Behaviour is pinned once, for both, by the conformance suite
// (test/store/conformance/tokens.ts). Minting, validation and the last-used batching sit above it,
// in api-tokens/api-tokens.ts. Times are ms since the epoch.

export type TokenAccess = 'read' | 'write';

/** A stored token: what it grants and its times. Never the secret; the hash only via findByHash. */
export interface ApiTokenRecord {
  /** Public id ("tok_…"); never derived from the secret. */
  id: string;
  /** The Jira username the token acts as. */
  owner: string;
  name: string;
  access: TokenAccess;
  /** Path patterns the token may call; empty: every path. */
  paths: string[];
  /** The owner's groups when the token was minted. */
  groups: string[];
  /** CIDRs the token may be used from; empty: any address. */
  ipAllowlist: string[];
  rateLimit?: { points: number; durationSec: number };
  createdAt: number;
  expiresAt: number;
  lastUsedAt?: number;
  lastUsedIp?: string;
  revokedAt?: number;
  /** "cli", "self-service:<user>", "admin:<user>". */
  createdBy: string;
}

/** A token to insert: its record as minted, and the SHA-256 (hex) of its secret. */
export interface NewApiToken extends Omit<ApiTokenRecord, 'lastUsedAt' | 'lastUsedIp' | 'revokedAt'> {
  tokenHash: string;
}

/** A token as stored, its hash included: what `store copy` moves from one store to another. */
export interface ApiTokenDump extends ApiTokenRecord {
  tokenHash: string;
}

export interface TokenUse {
  id: string;
  at: number;
  ip: string;
}

/** What an edit may change: the grants an admin can narrow or widen and the expiry; null clears the rate limit. */
export interface TokenChanges {
  name?: string;
  paths?: string[];
  ipAllowlist?: string[];
  rateLimit?: { points: number; durationSec: number } | null;
  expiresAt?: number;
}

export interface TokenStore {
  /** Stores a new token; a duplicate id or hash is an error. */
  insert(token: NewApiToken): Promise<void>;
  /** The token with this hash and the stored hash itself (the caller compares it in constant time). */
  findByHash(tokenHash: string): Promise<{ record: ApiTokenRecord; tokenHash: string } | undefined>;
  get(id: string): Promise<ApiTokenRecord | undefined>;
  /** Every token, or one owner's, newest first (ties by id). */
  list(filter?: { owner?: string }): Promise<ApiTokenRecord[]>;
  /** Marks the token revoked at `at` unless it already is (the first time is kept); true when this call did it. */
  revoke(id: string, at: number): Promise<boolean>;
  /**
   * Brings the token's expiry forward to `at` (rotation: the old secret works until the overlap
   * ends) unless it is revoked or already expires by then; true when this call changed it. Never
   * moves an expiry later.
   */
  shortenExpiry(id: string, at: number): Promise<boolean>;
  /**
   * Applies an edit to a token that is not revoked (fields left out are kept); true when the token
   * was there and not revoked. The caller checks the values (ApiTokens.update).
   */
  update(id: string, changes: TokenChanges): Promise<boolean>;
  /** Last-used stamps, in one write; a stamp older than the stored one is ignored (never backwards). */
  recordUses(uses: readonly TokenUse[]): Promise<void>;
  /** Deletes these tokens (the lifecycle's cleanup of long expired or revoked ones), in one write; how many there were. */
  deleteTokens(ids: readonly string[]): Promise<number>;

  // ---- copying a store (store/copy.ts)
  /** Every token with its hash, in batches of up to `batchRows`, by id (byte order). */
  dump(batchRows?: number): AsyncIterable<ApiTokenDump[]>;
  /** Stores tokens as dumped (last use and revocation kept), in one transaction; a duplicate id or hash is an error. */
  restore(tokens: readonly ApiTokenDump[]): Promise<void>;
}
