-- credential-map: see migrations/sqlite/0005_credential_map.sql. The secret is stored only as
-- AES-256-GCM ciphertext, sealed above the store (src/credential-map/): key_id names the key, iv is
-- the 96-bit nonce, tag the GCM tag, and the additional authenticated data is the row's subject and
-- kind, so a ciphertext copied onto another row does not decrypt. No column holds any part of the
-- plaintext.
CREATE TABLE IF NOT EXISTS identity_credentials (
  subject_type TEXT NOT NULL CHECK (subject_type IN ('client', 'user')),
  subject TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'jira-pat' CHECK (kind IN ('jira-pat')),
  key_id TEXT NOT NULL,
  iv BYTEA NOT NULL,
  ciphertext BYTEA NOT NULL,
  tag BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  note TEXT,
  PRIMARY KEY (subject_type, subject)
);

CREATE INDEX IF NOT EXISTS identity_credentials_key ON identity_credentials (key_id);
