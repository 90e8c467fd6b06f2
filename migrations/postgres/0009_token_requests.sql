-- API-token requests: see migrations/sqlite/0010_token_requests.sql. No secret is stored here; each
-- status step is a conditional UPDATE (WHERE status = the expected one), so of two replicas racing
-- for the same step exactly one changes the row.
CREATE TABLE IF NOT EXISTS token_requests (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  access TEXT NOT NULL CHECK (access IN ('read', 'write')),
  paths JSONB NOT NULL DEFAULT '[]',
  ip_allowlist JSONB NOT NULL DEFAULT '[]',
  days DOUBLE PRECISION,
  justification TEXT NOT NULL,
  groups JSONB NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'issued', 'withdrawn')),
  created_at BIGINT NOT NULL,
  decided_at BIGINT,
  decided_by TEXT,
  comment TEXT,
  token_id TEXT
);

CREATE INDEX IF NOT EXISTS token_requests_owner ON token_requests (owner, created_at);
CREATE INDEX IF NOT EXISTS token_requests_status ON token_requests (status, created_at);
