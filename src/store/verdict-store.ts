// Verdicts handed over across a restart: what a stopping sidecar's caches of verified tokens held
// (jwt.cacheHandover, introspection.cacheHandover), read back by the next start. Implemented by
// sqlite/verdicts.ts and postgres/verdicts.ts, pinned by test/store/conformance/verdicts.ts. Imports
// nothing from admin/, pipeline/ or http/: a verdict's identity is opaque JSON text here.
//
// A row is only ever read back under the kind and the fingerprint it was saved with (the caller's
// digest of the version and the settings that judged it) and only until its own untilMs: the store
// never makes a verdict outlive the in-memory entry it came from. Each kind is a store of its own:
// a save or clear of one never touches the rows of another.

/** Which cache the verdicts come from: verified JWTs, or active answers of the introspection endpoint. */
export type VerdictKind = 'jwt' | 'introspection';

/** One verified token's verdict, keyed by the SHA-256 of the token (never the token itself). */
export interface HandedVerdict {
  hash: string;
  /** The verified identity as JSON (the caller's format). */
  identity: string;
  /** ms since the epoch after which the verdict is void. */
  untilMs: number;
}

export interface VerdictStore {
  /**
   * Writes the verdicts (most recently used first) of `kind` under `fingerprint`, replacing any row of
   * the same kind and hash, in one transaction that also drops every row of this kind under another
   * fingerprint or past its untilMs, and then keeps this kind's `keep` newest rows (a later save
   * before an earlier one, then by position).
   */
  save(kind: VerdictKind, fingerprint: string, verdicts: readonly HandedVerdict[], o: { now: number; keep: number }): Promise<void>;
  /** The verdicts of `kind` saved under `fingerprint` still valid after `now`, newest first, at most `limit`. */
  load(kind: VerdictKind, fingerprint: string, o: { now: number; limit: number }): Promise<HandedVerdict[]>;
  /** Drops every row of `kind`; answers how many there were. */
  clear(kind: VerdictKind): Promise<number>;
}
