-- Console sign-in (issue 21): a browser holds an opaque session id in an httpOnly cookie; only its SHA-256 is stored.
-- Sessions are revocable (logout, member removal) and end after an idle period or an absolute lifetime.
CREATE TABLE console_sessions (
  id           uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces(id),
  member_id    uuid NOT NULL REFERENCES members(id),
  token_hash   bytea NOT NULL UNIQUE,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  last_seen_at timestamptz(3) NOT NULL DEFAULT now(),
  expires_at   timestamptz(3) NOT NULL,
  revoked_at   timestamptz(3)
);
CREATE INDEX console_sessions_member ON console_sessions (member_id) WHERE revoked_at IS NULL;

ALTER TABLE console_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON console_sessions USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace());
CREATE POLICY resolver_lookup ON console_sessions FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (id, workspace_id, member_id, token_hash, last_seen_at, expires_at, revoked_at) ON console_sessions TO switchyard_resolver;
GRANT SELECT, INSERT, UPDATE ON console_sessions TO switchyard_api;

-- The cookie arrives before the workspace is known: resolved like an API token, with the member's current role
-- (NULL once she is removed, which ends the session).
CREATE FUNCTION auth_resolve_console_session(p_hash bytea)
  RETURNS TABLE (id uuid, workspace_id uuid, member_id uuid, role text, last_seen_at timestamptz, expires_at timestamptz, revoked_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT s.id, s.workspace_id, s.member_id, m.role, s.last_seen_at, s.expires_at, s.revoked_at
          FROM console_sessions s LEFT JOIN members m ON m.id = s.member_id AND m.removed_at IS NULL
         WHERE s.token_hash = p_hash $$;
ALTER FUNCTION auth_resolve_console_session(bytea) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION auth_resolve_console_session(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_resolve_console_session(bytea) TO switchyard_api;
