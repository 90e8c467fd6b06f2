-- The path, client-IP, API-token and client-app indexes become deferred index tables too (issue 8),
-- like audit_by_user (0006). Why: in real traffic each takes many values (/rest/api/2/issue/PROJ-1234,
-- one address per caller, one token per script, one app id per integration), so each new row's
-- entries landed on leaf pages of their own, and every changed page is copied whole into the WAL on
-- commit. Writer CPU per row, 400k rows, the worker's settings: 50,000 paths and 2,000 addresses
-- 33-38 µs with their SQLite indexes, 17-19 µs deferred; 200 API tokens 23-24 µs with the token
-- index, 12-14 µs without; 50 client apps 16-21 µs with the client index, 11-13 µs without. The
-- writer adds the entries every audit.indexBatchRows rows, sorted (src/store/sqlite/audit-index.ts); queries
-- read rows newer than through_id from audit_log by rowid, so results stay exact and immediate
-- (src/store/sqlite/audit-query.ts).
-- OR IGNORE throughout: entries or state rows already there (a development build of this migration
-- under its first name, 0007_audit_deferred_path_ip) are kept, not an error.
CREATE TABLE IF NOT EXISTS audit_by_path (
  path TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,                -- audit_log.id
  PRIMARY KEY (path, time, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS audit_by_ip (
  client_ip TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,                -- audit_log.id
  PRIMARY KEY (client_ip, time, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS audit_by_token (
  token_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,                -- audit_log.id
  PRIMARY KEY (token_id, time, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS audit_by_client (
  client_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,                -- audit_log.id
  PRIMARY KEY (client_id, time, id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO audit_by_path (path, time, id) SELECT path, time, id FROM audit_log ORDER BY path, time, id;
INSERT OR IGNORE INTO audit_by_ip (client_ip, time, id) SELECT client_ip, time, id FROM audit_log ORDER BY client_ip, time, id;
INSERT OR IGNORE INTO audit_by_token (token_id, time, id) SELECT token_id, time, id FROM audit_log WHERE token_id IS NOT NULL ORDER BY token_id, time, id;
INSERT OR IGNORE INTO audit_by_client (client_id, time, id) SELECT client_id, time, id FROM audit_log WHERE client_id IS NOT NULL ORDER BY client_id, time, id;
INSERT OR IGNORE INTO audit_index_state (name, through_id) SELECT name, (SELECT COALESCE(MAX(id), 0) FROM audit_log)
  FROM (SELECT 'audit_by_path' AS name UNION ALL SELECT 'audit_by_ip' UNION ALL SELECT 'audit_by_token' UNION ALL SELECT 'audit_by_client');
DROP INDEX IF EXISTS audit_log_path;
DROP INDEX IF EXISTS audit_log_ip;
DROP INDEX IF EXISTS audit_log_token;
DROP INDEX IF EXISTS audit_log_client;
