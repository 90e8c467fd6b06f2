-- Token lifecycle (issue 19): expiry and unused-token warnings, the notification delivery log and
-- the last run of each background job. Never a token secret: messages name a token by id and name.

-- One row per warning sent (or being sent) for a token: inserted if absent, so each warning
-- ("expiry:7", "expiry:1", "unused:7:<basis>") goes out once even with several replicas.
CREATE TABLE IF NOT EXISTS token_warnings (
  token_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  noted_at INTEGER NOT NULL,            -- ms since the epoch
  PRIMARY KEY (token_id, kind)
);

-- Every message to an owner or a webhook, with the state of its delivery.
CREATE TABLE IF NOT EXISTS notification_deliveries (
  id TEXT PRIMARY KEY,                  -- "dlv_…"
  time INTEGER NOT NULL,                -- when it was queued
  channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
  event TEXT NOT NULL,                  -- token.expiring, token.unused, token.revoked, test
  token_id TEXT,
  owner TEXT,
  target TEXT NOT NULL,                 -- the address, or the webhook URL without credentials
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  sent_at INTEGER
);

CREATE INDEX IF NOT EXISTS notification_deliveries_time ON notification_deliveries (time DESC, id DESC);
CREATE INDEX IF NOT EXISTS notification_deliveries_token ON notification_deliveries (token_id);

-- When a background job last ran, and where: a job runs at most once per interval in a cluster.
CREATE TABLE IF NOT EXISTS job_runs (
  name TEXT PRIMARY KEY,
  last_run_at INTEGER NOT NULL,
  replica TEXT NOT NULL
);
