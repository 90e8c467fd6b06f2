-- Audit shipping (issue 21, audit.shipping): per destination ('syslog', 'http') and per audit chain
-- ('request', 'admin'), the id of the last row the destination confirmed. Rows are sent, then the
-- cursor advances, so a restart or an outage of the receiver resumes after the last confirmed batch.
-- No replica column: like audit_log, the file holds one replica's chains (the store's name).
CREATE TABLE IF NOT EXISTS audit_shipping_cursor (
  destination TEXT NOT NULL,
  chain TEXT NOT NULL CHECK (chain IN ('request', 'admin')),
  last_id INTEGER NOT NULL,            -- the last row id shipped from the chain
  updated_at INTEGER NOT NULL,         -- ms since the epoch
  PRIMARY KEY (destination, chain)
) WITHOUT ROWID;
