-- Foundation: key/value settings the sidecar keeps for itself (e.g. the stored config document).
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
