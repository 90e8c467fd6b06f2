-- JWT verdicts handed over across a restart (jwt.cacheHandover, issue 25): on a graceful stop the
-- sidecar writes the verified-token cache here, and the next start reads it back before /readyz
-- says ready, so the tokens its callers hold are not verified again under the first load. Keyed by
-- the SHA-256 of the token (never the token); identity is the verified identity as JSON without the
-- raw claims; fingerprint binds a row to the version and the jwt/enforcement settings that judged
-- it (other fingerprints are never read back); until_ms is the in-memory entry's own bound
-- (min(exp, verified + keyCache.maxAgeSec)). position orders one save, most recently used first.
CREATE TABLE IF NOT EXISTS jwt_verdicts (
  hash TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  identity TEXT NOT NULL,
  until_ms INTEGER NOT NULL,
  saved_at INTEGER NOT NULL,
  position INTEGER NOT NULL
) WITHOUT ROWID;
