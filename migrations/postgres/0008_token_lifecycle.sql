-- Token lifecycle (issue 19): see migrations/sqlite/0009_token_lifecycle.sql.
CREATE TABLE IF NOT EXISTS token_warnings (
  token_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  noted_at BIGINT NOT NULL,
  PRIMARY KEY (token_id, kind)
);

CREATE TABLE IF NOT EXISTS notification_deliveries (
  id TEXT PRIMARY KEY,
  time BIGINT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
  event TEXT NOT NULL,
  token_id TEXT,
  owner TEXT,
  target TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  sent_at BIGINT
);

CREATE INDEX IF NOT EXISTS notification_deliveries_time ON notification_deliveries (time DESC, id COLLATE "C" DESC);
CREATE INDEX IF NOT EXISTS notification_deliveries_token ON notification_deliveries (token_id);

CREATE TABLE IF NOT EXISTS job_runs (
  name TEXT PRIMARY KEY,
  last_run_at BIGINT NOT NULL,
  replica TEXT NOT NULL
);
