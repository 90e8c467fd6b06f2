-- Token buckets (rateLimit.algorithm: token-bucket with rateLimit.store: postgres; issue 26):
-- src/pipeline/rate-limit/token-bucket.ts takes tokens in one INSERT … ON CONFLICT DO UPDATE that
-- refills from (tokens, updated_at) under the row lock, by the database's clock. key =
-- jas:tb:max:fill:intervalSec:identity. granted: whether the last statement took its tokens (what
-- RETURNING answers). A row with a full bucket carries no state: the sidecar may delete it.
CREATE TABLE IF NOT EXISTS rate_limit_buckets (
  key TEXT PRIMARY KEY,
  tokens DOUBLE PRECISION NOT NULL,
  updated_at BIGINT NOT NULL,
  granted BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX IF NOT EXISTS rate_limit_buckets_updated_at ON rate_limit_buckets (updated_at);
