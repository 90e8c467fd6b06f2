-- Deferred audit indexes in two tiers (issue 25). Each index table of 0006/0007 (the "main" tier)
-- gets a small "recent" tier of the same shape: once the log holds 500,000 rows the writer's fills
-- (every audit.indexBatchRows rows) go into the recent table, and a sweep moves its entries into the
-- main table in key order, a chunk per batch, once it holds 8 fills' worth. Filling the main table directly changed, per fill,
-- about one page of every key seen in the fill, wherever that key's range lies in a table that grows
-- with the log: the writer's CPU per row grew with the log's size (writer-micro: 11.6 µs a row at
-- 200,000 rows, 20-24 at 1 million, 35 at 3 million; 9 GB written for 1 million rows). A fill now
-- changes pages of a table that stays small, and the main table is changed once per sweep.
-- Every row at or below an index's through_id has its entry in exactly one of the two tables.
-- audit_index_state holds, per recent table, the through_id the last completed sweep started from.
CREATE TABLE IF NOT EXISTS audit_by_user_recent (
  user TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (user, time, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_by_ip_recent (
  client_ip TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (client_ip, time, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_by_path_recent (
  path TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (path, time, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_by_token_recent (
  token_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (token_id, time, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_by_client_recent (
  client_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (client_id, time, id)
) WITHOUT ROWID;
-- Everything indexed so far is in the main tables: the recent ones start empty, swept through there.
INSERT OR IGNORE INTO audit_index_state (name, through_id)
  SELECT name || '_recent', through_id FROM audit_index_state
  WHERE name IN ('audit_by_user', 'audit_by_ip', 'audit_by_path', 'audit_by_token', 'audit_by_client');
