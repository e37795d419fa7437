-- The platform on-call in the console (issue 21): the platform token, presented once, is exchanged for a cookie
-- session like a member's (only its SHA-256 stored; revocable; idle and absolute expiry). No workspace: only the
-- api reads and writes these rows, and only for the platform's routes.
CREATE TABLE platform_sessions (
  id           uuid PRIMARY KEY,
  token_hash   bytea NOT NULL UNIQUE,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  last_seen_at timestamptz(3) NOT NULL DEFAULT now(),
  expires_at   timestamptz(3) NOT NULL,
  revoked_at   timestamptz(3)
);
GRANT SELECT, INSERT, UPDATE ON platform_sessions TO switchyard_api;
