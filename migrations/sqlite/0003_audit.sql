-- Audit log (CONTRACT section 6): one row per guarded request, one per admin action.
--
-- Tamper evidence: every row carries row_hash = SHA-256(prev_hash || canonical row JSON) and the
-- prev_hash of the row before it (src/audit/chain.ts). Ids are assigned by the writer as
-- previous id + 1, so a chain has no gaps and its length is max(id) - min(id) + 1 without a scan.
-- Request rows and admin rows are two separate chains ('request', 'admin'): request rows are written
-- in batches by the sink while admin rows are written synchronously by the admin API, and two chains
-- let each writer own its head without coordinating; `audit verify` walks both.

CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,              -- ms since epoch, when the request arrived
  request_id TEXT NOT NULL,
  decision TEXT NOT NULL,             -- allow | deny | passthrough | error
  reason TEXT NOT NULL,               -- error code, or "allowed"
  status INTEGER NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,                 -- canonical path, query dropped
  client_ip TEXT NOT NULL,
  user TEXT,
  credential_kind TEXT,
  token_id TEXT,
  client_id TEXT,
  issuer TEXT,
  latency_ms INTEGER NOT NULL,
  upstream_status INTEGER,
  route TEXT,
  stage TEXT,
  rule TEXT,
  prev_hash TEXT NOT NULL,
  row_hash TEXT NOT NULL
);

-- Paging is newest first by (time, id); every index ends in time (and implicitly the rowid), so a
-- filter plus ORDER BY time DESC, id DESC LIMIT n walks one index without sorting. Columns that are
-- mostly NULL get partial indexes ("x = ?" implies x IS NOT NULL, so the planner still uses them).
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time);
CREATE INDEX IF NOT EXISTS audit_log_user ON audit_log (user, time) WHERE user IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_client ON audit_log (client_id, time) WHERE client_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_token ON audit_log (token_id, time) WHERE token_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_ip ON audit_log (client_ip, time);
CREATE INDEX IF NOT EXISTS audit_log_decision ON audit_log (decision, time);
CREATE INDEX IF NOT EXISTS audit_log_status ON audit_log (status, time);
CREATE INDEX IF NOT EXISTS audit_log_path ON audit_log (path, time);

CREATE TABLE IF NOT EXISTS admin_audit (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,               -- e.g. config.update, token.revoke, admin.login
  target TEXT,
  before_json TEXT,                   -- secrets masked before they get here
  after_json TEXT,
  prev_hash TEXT NOT NULL,
  row_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_audit_time ON admin_audit (time);

-- Where each chain starts after retention deleted its oldest rows: the id and row_hash of the last
-- deleted row. The first remaining row must have id = last_id + 1 and prev_hash = last_hash.
CREATE TABLE IF NOT EXISTS audit_anchor (
  chain TEXT PRIMARY KEY,             -- 'request' | 'admin'
  last_id INTEGER NOT NULL,
  last_hash TEXT NOT NULL,
  last_time INTEGER NOT NULL,
  deleted_total INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
