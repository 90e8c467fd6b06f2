// JWT verdicts handed over across a restart (jwt.cacheHandover): what a stopping sidecar's cache of
// verified tokens held, read back by the next start. Implemented by sqlite/verdicts.ts and
// postgres/verdicts.ts, pinned by test/store/conformance/verdicts.ts. Imports nothing from admin/,
// pipeline/ or http/: a verdict's identity is opaque JSON text here.
//
// A row is only ever read back under the fingerprint it was saved with (the caller's digest of the
// version and the settings that judged it) and only until its own untilMs: the store never makes a
// verdict outlive the in-memory entry it came from.

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
   * Writes the verdicts (most recently used first) under `fingerprint`, replacing any row of the same
   * hash, in one transaction that also drops every row of another fingerprint or past its untilMs and
   * then keeps the `keep` newest rows (a later save before an earlier one, then by position).
   */
  save(fingerprint: string, verdicts: readonly HandedVerdict[], o: { now: number; keep: number }): Promise<void>;
  /** The verdicts saved under `fingerprint` still valid after `now`, newest first, at most `limit`. */
  load(fingerprint: string, o: { now: number; limit: number }): Promise<HandedVerdict[]>;
  /** Drops every row; answers how many there were. */
  clear(): Promise<number>;
}
