-- Safe rollout (issue 18): what a rule in report mode would have refused with, the caller's
-- User-Agent (the "who would break" report) and the decision facts replay reads (groups, token scope,
-- path and body facts; never a secret). Hashed only when set (audit/chain.ts REQUEST_REQUIRED_COLUMNS),
-- so rows written before keep their hashes.
ALTER TABLE audit_log ADD COLUMN would_deny text;
ALTER TABLE audit_log ADD COLUMN user_agent text;
ALTER TABLE audit_log ADD COLUMN facts text;
