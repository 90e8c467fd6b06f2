-- Admin console: users (scrypt password hashes), sessions and API keys (only SHA-256 hashes of the
-- secrets are stored: a copy of the database does not let anyone log in), failed-login tracking.
CREATE TABLE IF NOT EXISTS admin_users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE,
  -- "scrypt$N$r$p$salt$hash" (base64url)
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS admin_sessions (
  -- SHA-256 (hex) of the session id sent in the cookie
  id_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
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
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER
);

-- One row per throttling key ("user:<name>" or "ip:<address>"); cleared on a successful login.
CREATE TABLE IF NOT EXISTS admin_login_failures (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  locked_until INTEGER NOT NULL DEFAULT 0
);
