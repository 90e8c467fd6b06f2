-- Shared rate-limit counters (rateLimit.store: postgres): rate-limiter-flexible's RateLimiterPostgres
-- table, created here rather than by the library at run time (tableCreated: true), so the sidecar's
-- database user needs no CREATE right after migrating. key = prefix:points:duration:identity (TEXT:
-- an identity may be a 255-character username; the library declares VARCHAR(255)).
CREATE TABLE IF NOT EXISTS rate_limits (
  key TEXT PRIMARY KEY,
  points INTEGER NOT NULL DEFAULT 0,
  expire BIGINT
);
