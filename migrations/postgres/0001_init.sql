-- PostgreSQL schema, side by side with migrations/sqlite/: the same tables and columns, in
-- PostgreSQL's types (BIGINT for ms since the epoch, JSONB for lists, BYTEA for ciphertext).
-- Foundation: key/value settings the sidecar keeps for itself (e.g. the stored config document).
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
