-- Our API tokens: see migrations/sqlite/0002_api_tokens.sql for why only an unsalted SHA-256 of the
-- token is stored.
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  access TEXT NOT NULL CHECK (access IN ('read', 'write')),
  paths JSONB NOT NULL DEFAULT '[]',
  groups JSONB NOT NULL DEFAULT '[]',
  ip_allowlist JSONB NOT NULL DEFAULT '[]',
  rate_limit JSONB,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  last_used_at BIGINT,
  last_used_ip TEXT,
  revoked_at BIGINT,
  created_by TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens (owner);
