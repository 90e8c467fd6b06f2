-- Verdicts handed over across a restart, of two kinds now (issue 25): 'jwt' (jwt.cacheHandover, the
-- rows of 0012's jwt_verdicts) and 'introspection' (introspection.cacheHandover: active answers of
-- the introspection endpoint). A kind's save and clear touch its own rows only, so the two caches
-- never remove each other's verdicts. The columns are 0012's: hash is the SHA-256 of the token
-- (never the token), identity the identity as JSON without the raw claims or answer, fingerprint
-- binds a row to the version and the settings that judged it (never secrets), until_ms the
-- in-memory entry's own bound, position orders one save (most recently used first).
CREATE TABLE IF NOT EXISTS handed_verdicts (
  kind TEXT NOT NULL,
  hash TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  identity TEXT NOT NULL,
  until_ms INTEGER NOT NULL,
  saved_at INTEGER NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (kind, hash)
) WITHOUT ROWID;
INSERT INTO handed_verdicts (kind, hash, fingerprint, identity, until_ms, saved_at, position)
  SELECT 'jwt', hash, fingerprint, identity, until_ms, saved_at, position FROM jwt_verdicts;
DROP TABLE jwt_verdicts;
