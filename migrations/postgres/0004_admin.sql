-- Admin console: see migrations/sqlite/0004_admin.sql for why only hashes of the secrets are stored.
CREATE TABLE IF NOT EXISTS admin_users (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  -- "scrypt$N$r$p$salt$hash" (base64url)
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  password_changed_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS admin_sessions (
  -- SHA-256 (hex) of the session id sent in the cookie
  id_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  ip TEXT
);
CREATE INDEX IF NOT EXISTS admin_sessions_expires ON admin_sessions(expires_at);

CREATE TABLE IF NOT EXISTS admin_api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  -- SHA-256 (hex) of the whole key
  key_hash TEXT NOT NULL UNIQUE,
  -- first characters of the key, shown in lists so an admin can tell keys apart
  hint TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  last_used_at BIGINT,
  revoked_at BIGINT
);

-- One row per throttling key ("user:<name>" or "ip:<address>"); cleared on a successful login.
CREATE TABLE IF NOT EXISTS admin_login_failures (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  first_at BIGINT NOT NULL,
  last_at BIGINT NOT NULL,
  locked_until BIGINT NOT NULL DEFAULT 0
);
