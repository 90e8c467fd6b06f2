-- credential-map (issue 6): a Jira credential (a service account's PAT) the sidecar forwards for a
-- service principal (subject_type 'client', by client id) or a chosen user (subject_type 'user').
--
-- The secret is stored only as AES-256-GCM ciphertext (src/credential-map/secret-keys.ts): key_id names the
-- key that sealed it (rotation re-encrypts row by row), iv is the 96-bit nonce, tag the GCM tag. The
-- additional authenticated data is the row's subject and kind, so a ciphertext copied onto another
-- row does not decrypt. No column holds any part of the plaintext (no prefix, no last four).
CREATE TABLE IF NOT EXISTS identity_credentials (
  subject_type TEXT NOT NULL CHECK (subject_type IN ('client', 'user')),
  subject TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'jira-pat' CHECK (kind IN ('jira-pat')),
  key_id TEXT NOT NULL,
  iv BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  tag BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  note TEXT,
  PRIMARY KEY (subject_type, subject)
);

CREATE INDEX IF NOT EXISTS identity_credentials_key ON identity_credentials (key_id);
