-- Foundation: workspaces, members, API tokens, platform settings, and the tenancy primitives.
-- Runs as switchyard_owner. The roles switchyard_api, switchyard_worker and switchyard_resolver
-- are created by the bootstrap (src/database/bootstrap.ts) before any migration.

-- The workspace of the current unit of work; '' (not NULL) on a pooled connection after a transaction.
CREATE FUNCTION app_current_workspace() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.workspace_id', true), '')::uuid $$;

CREATE TABLE workspaces (
  id                    uuid PRIMARY KEY,
  name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kill_switch_engaged   boolean NOT NULL DEFAULT false,
  kill_switch_reason    text,
  kill_switch_changed_at timestamptz(3),
  live_trading_enabled  boolean NOT NULL DEFAULT false,
  live_trading_changed_at timestamptz(3),
  created_at            timestamptz(3) NOT NULL DEFAULT now()
);
-- The workspace row is its own tenant: RLS keys on id.
ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workspaces
  USING (id = app_current_workspace()) WITH CHECK (id = app_current_workspace());

CREATE TABLE members (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  email         text NOT NULL CHECK (email = lower(email) AND length(email) <= 320),
  password_hash text,
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'trader', 'viewer')),
  created_at    timestamptz(3) NOT NULL DEFAULT now(),
  removed_at    timestamptz(3)
);
CREATE UNIQUE INDEX members_workspace_email_active ON members (workspace_id, email) WHERE removed_at IS NULL;
CREATE INDEX members_email ON members (email) WHERE removed_at IS NULL;

CREATE TABLE api_tokens (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  token_hash    bytea NOT NULL UNIQUE,
  token_hint    text NOT NULL,
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'trader', 'viewer')),
  created_by    uuid,
  expires_at    timestamptz(3),
  revoked_at    timestamptz(3),
  created_at    timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX api_tokens_workspace ON api_tokens (workspace_id);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['members', 'api_tokens'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

-- Platform-wide switches: one row, no tenant.
CREATE TABLE platform_settings (
  id                   smallint PRIMARY KEY CHECK (id = 1),
  kill_switch_engaged  boolean NOT NULL DEFAULT false,
  kill_switch_reason   text,
  kill_switch_changed_at timestamptz(3)
);
INSERT INTO platform_settings (id) VALUES (1);

-- Authentication must find a token or a login before it knows the workspace. These two
-- SECURITY DEFINER functions are the only cross-tenant reads; they run as switchyard_resolver,
-- which may only SELECT the columns they return.
CREATE POLICY resolver_lookup ON api_tokens FOR SELECT TO switchyard_resolver USING (true);
CREATE POLICY resolver_lookup ON members FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (id, workspace_id, token_hash, role, expires_at, revoked_at) ON api_tokens TO switchyard_resolver;
GRANT SELECT (id, workspace_id, email, password_hash, role, removed_at) ON members TO switchyard_resolver;

CREATE FUNCTION auth_resolve_api_token(p_hash bytea)
  RETURNS TABLE (id uuid, workspace_id uuid, role text, expires_at timestamptz, revoked_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT t.id, t.workspace_id, t.role, t.expires_at, t.revoked_at FROM api_tokens t WHERE t.token_hash = p_hash $$;

CREATE FUNCTION auth_resolve_member_login(p_email text)
  RETURNS TABLE (id uuid, workspace_id uuid, role text, password_hash text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT m.id, m.workspace_id, m.role, m.password_hash FROM members m WHERE m.email = lower(p_email) AND m.removed_at IS NULL $$;

ALTER FUNCTION auth_resolve_api_token(bytea) OWNER TO switchyard_resolver;
ALTER FUNCTION auth_resolve_member_login(text) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION auth_resolve_api_token(bytea), auth_resolve_member_login(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_resolve_api_token(bytea), auth_resolve_member_login(text) TO switchyard_api;

GRANT SELECT, INSERT, UPDATE ON workspaces TO switchyard_api;
GRANT SELECT ON workspaces TO switchyard_worker;
GRANT SELECT, INSERT, UPDATE ON members, api_tokens TO switchyard_api;
GRANT SELECT, UPDATE ON platform_settings TO switchyard_api;
GRANT SELECT ON platform_settings TO switchyard_worker;
