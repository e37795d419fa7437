-- Rate limits and sign-in lockouts shared by every api replica (the PostgreSQL limit store; Redis
-- replaces it when REDIS_URL is set). Platform-level counters, no tenant data: keys are IPs, e-mail
-- digests and source ids, so the table has no workspace_id and no RLS. Runs as switchyard_owner.
CREATE TABLE limit_counters (
  key        text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 300),
  count      integer NOT NULL CHECK (count >= 0),
  expires_at timestamptz NOT NULL
);
-- The api's sweep deletes expired rows oldest first.
CREATE INDEX limit_counters_expiry ON limit_counters (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON limit_counters TO switchyard_api;
