-- Member JWTs carry a `jti` (issue 19, finding 12); signing out records it here so the token is refused at once.
-- A row is needed only until the token would have expired anyway (sign-out sweeps the expired ones).
CREATE TABLE revoked_jwts (
  jti          uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces(id),
  member_id    uuid NOT NULL REFERENCES members(id),
  expires_at   timestamptz(3) NOT NULL,
  revoked_at   timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX revoked_jwts_expiry ON revoked_jwts (workspace_id, expires_at);

ALTER TABLE revoked_jwts ENABLE ROW LEVEL SECURITY;
ALTER TABLE revoked_jwts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON revoked_jwts USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace());
GRANT SELECT, INSERT, DELETE ON revoked_jwts TO switchyard_api;
