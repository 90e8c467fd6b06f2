-- Audit log on PostgreSQL, side by side with migrations/sqlite/0003_audit.sql (0006 and 0007 there
-- only reshape SQLite's indexes): the same columns, one shared log for every replica of a cluster.
--
-- Each replica appends to chains of its own (src/store/audit-store.ts): `replica` names the chain a
-- row belongs to and ids are consecutive within it, so the key is (replica, id). The chain format
-- is src/audit/chain.ts; the writer, verify and retention are src/store/postgres/audit.ts.
--
-- Every text column is COLLATE "C": comparisons and sort order are then byte order, as SQLite's
-- BINARY, whatever the database's default collation. The path prefix filter is the range
-- [p, p || U+10FFFF) and listings tie-break on replica, so both must order exactly as on SQLite.

CREATE TABLE IF NOT EXISTS audit_log (
  replica TEXT COLLATE "C" NOT NULL,
  id BIGINT NOT NULL,
  time BIGINT NOT NULL,                        -- ms since epoch, when the request arrived
  request_id TEXT COLLATE "C" NOT NULL,
  decision TEXT COLLATE "C" NOT NULL,          -- allow | deny | passthrough | error
  reason TEXT COLLATE "C" NOT NULL,            -- error code, or "allowed"
  status INTEGER NOT NULL,
  method TEXT COLLATE "C" NOT NULL,
  path TEXT COLLATE "C" NOT NULL,              -- canonical path, query dropped
  client_ip TEXT COLLATE "C" NOT NULL,
  "user" TEXT COLLATE "C",
  credential_kind TEXT COLLATE "C",
  token_id TEXT COLLATE "C",
  client_id TEXT COLLATE "C",
  issuer TEXT COLLATE "C",
  latency_ms INTEGER NOT NULL,
  upstream_status INTEGER,
  route TEXT COLLATE "C",
  stage TEXT COLLATE "C",
  rule TEXT COLLATE "C",
  prev_hash TEXT COLLATE "C" NOT NULL,
  row_hash TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (replica, id)
);

-- Listings are keyset-paged in (time, replica, id) order. Each index ends in those three columns, so
-- "filter = x AND (time, replica, id) < cursor ORDER BY time DESC, replica DESC, id DESC LIMIT n"
-- is one index range walked backwards, without a sort, whatever the page number. Mostly-NULL columns
-- get partial indexes ("x = $1" implies x IS NOT NULL). Range filters (status class, path prefix)
-- come back in their own index's order: the planner weighs that sort against walking the time
-- index with a filter from its statistics (SQLite needs audit-query.ts's probe for that choice).
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time, replica, id);
CREATE INDEX IF NOT EXISTS audit_log_replica ON audit_log (replica, time, id);
CREATE INDEX IF NOT EXISTS audit_log_user ON audit_log ("user", time, replica, id) WHERE "user" IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_client ON audit_log (client_id, time, replica, id) WHERE client_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_token ON audit_log (token_id, time, replica, id) WHERE token_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_ip ON audit_log (client_ip, time, replica, id);
CREATE INDEX IF NOT EXISTS audit_log_path ON audit_log (path, time, replica, id);
-- As on SQLite (0006): the value nearly every row has ('allow', 200) is left out, its rows are
-- found by walking the time index; queries for another value state the predicate literally.
CREATE INDEX IF NOT EXISTS audit_log_decision ON audit_log (decision, time, replica, id) WHERE decision <> 'allow';
CREATE INDEX IF NOT EXISTS audit_log_status ON audit_log (status, time, replica, id) WHERE status <> 200;

CREATE TABLE IF NOT EXISTS admin_audit (
  replica TEXT COLLATE "C" NOT NULL,
  id BIGINT NOT NULL,
  time BIGINT NOT NULL,
  actor TEXT COLLATE "C" NOT NULL,
  action TEXT COLLATE "C" NOT NULL,            -- e.g. config.update, token.revoke, admin.login
  target TEXT COLLATE "C",
  before_json TEXT COLLATE "C",                -- secrets masked before they get here
  after_json TEXT COLLATE "C",
  prev_hash TEXT COLLATE "C" NOT NULL,
  row_hash TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (replica, id)
);
CREATE INDEX IF NOT EXISTS admin_audit_time ON admin_audit (time, replica, id);

-- Where each chain starts after retention deleted its oldest rows: the id and row_hash of the last
-- deleted row. The first remaining row must have id = last_id + 1 and prev_hash = last_hash.
CREATE TABLE IF NOT EXISTS audit_anchor (
  kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('request', 'admin')),
  replica TEXT COLLATE "C" NOT NULL,
  last_id BIGINT NOT NULL,
  last_hash TEXT COLLATE "C" NOT NULL,
  last_time BIGINT NOT NULL,
  deleted_total BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (kind, replica)
);
