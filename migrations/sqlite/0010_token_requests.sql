-- API-token requests (issue 19, apiTokens.approval): what a user asked for when an admin must
-- approve first. No secret is ever stored here: the token is minted when the owner claims the
-- approved request, and token_id then names it. Each status step is a conditional UPDATE
-- (WHERE status = the expected one), so it happens at most once.
CREATE TABLE IF NOT EXISTS token_requests (
  id TEXT PRIMARY KEY,                 -- public id ("req_…")
  owner TEXT NOT NULL,                 -- the Jira username asking
  name TEXT NOT NULL,
  access TEXT NOT NULL CHECK (access IN ('read', 'write')),
  paths TEXT NOT NULL DEFAULT '[]',    -- JSON array of path patterns; empty: every path
  ip_allowlist TEXT NOT NULL DEFAULT '[]', -- JSON array of CIDRs; empty: any address
  days REAL,                           -- lifetime asked for; NULL: apiTokens.maxLifetimeDays
  justification TEXT NOT NULL,
  groups TEXT NOT NULL DEFAULT '[]',   -- JSON array: the requester's groups from their JWT
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'issued', 'withdrawn')),
  created_at INTEGER NOT NULL,         -- ms since the epoch
  decided_at INTEGER,                  -- when it left pending
  decided_by TEXT,                     -- the deciding admin, or the owner who withdrew it
  comment TEXT,                        -- the admin's comment (required to deny)
  token_id TEXT                        -- the token minted by the claim (status issued)
);

CREATE INDEX IF NOT EXISTS token_requests_owner ON token_requests (owner, created_at);
CREATE INDEX IF NOT EXISTS token_requests_status ON token_requests (status, created_at);
