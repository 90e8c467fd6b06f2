-- Our API tokens (issue 3). The secret itself is never stored: token_hash is the SHA-256 (hex) of
-- the full token string. No salt or slow KDF is needed, unlike passwords: a token carries ~178 bits
-- of CSPRNG randomness (30 base62 characters), so there is no dictionary to precompute and brute
-- force is out of reach whatever the hash speed (the same reasoning as GitHub's token storage and
-- NIST SP 800-63B 5.1.1.2, which asks for salting/stretching only for low-entropy memorized secrets).
-- A fast unsalted hash is also what lets us find a token by an index lookup on every request.
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,                 -- public id ("tok_…"): shown in lists, audit rows, revoke
  token_hash TEXT NOT NULL UNIQUE,     -- sha256(token) hex
  owner TEXT NOT NULL,                 -- the Jira username the token acts as
  name TEXT NOT NULL,
  access TEXT NOT NULL CHECK (access IN ('read', 'write')),
  paths TEXT NOT NULL DEFAULT '[]',    -- JSON array of path patterns; empty: every path
  groups TEXT NOT NULL DEFAULT '[]',   -- JSON array: the owner's groups when the token was created
  ip_allowlist TEXT NOT NULL DEFAULT '[]', -- JSON array of CIDRs; empty: any address
  rate_limit TEXT,                     -- JSON {points, durationSec} or NULL (the global/group limit)
  created_at INTEGER NOT NULL,         -- ms since the epoch
  expires_at INTEGER NOT NULL,         -- ms since the epoch; always set (capped by maxLifetimeDays)
  last_used_at INTEGER,
  last_used_ip TEXT,
  revoked_at INTEGER,
  created_by TEXT NOT NULL             -- "cli", "self-service:<user>", "admin:<user>"
);

CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens (owner);
