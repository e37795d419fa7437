-- Credential vault: broker connections and their sealed credential versions (envelope-encrypted,
-- see src/kms/envelope.ts). Runs as switchyard_owner after 20261122000100_foundation.
--
-- Lock 2 of "only the routing worker can decrypt" lives here: switchyard_api may insert a sealed
-- secret and shred it, but has no SELECT on wrapped_key, iv, tag or ciphertext (column grants).

CREATE TABLE broker_connections (
  id                 uuid PRIMARY KEY,
  workspace_id       uuid NOT NULL REFERENCES workspaces(id),
  broker             text NOT NULL CHECK (broker IN ('paper', 'alpaca', 'binance', 'coinbase', 'oanda')),
  label              text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
  environment        text NOT NULL CHECK (environment IN ('paper', 'live')),
  status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  -- The only version the worker may open; older versions are shredded when a new one lands.
  credential_version integer NOT NULL CHECK (credential_version >= 1),
  key_hint           text NOT NULL CHECK (length(key_hint) <= 64),
  -- PermissionReport without keyHint: {inspection, canTrade, canWithdraw, canTransfer, note, details}.
  permissions        jsonb NOT NULL CHECK (jsonb_typeof(permissions) = 'object'),
  inspected_at       timestamptz(3) NOT NULL,
  created_at         timestamptz(3) NOT NULL DEFAULT now(),
  rotated_at         timestamptz(3),
  revoked_at         timestamptz(3),
  revoked_by         text CHECK (length(revoked_by) <= 200),
  broker_revocation  text CHECK (broker_revocation IN ('revoked', 'not_supported_by_broker', 'not_applicable')),
  -- Keys that can move funds are refused at onboarding; the database refuses them too.
  CHECK (permissions->>'canWithdraw' = 'false' AND permissions->>'canTransfer' = 'false'),
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL) AND (status = 'revoked') = (broker_revocation IS NOT NULL)),
  -- Target of credential_versions' composite key: a version can never belong to another workspace's connection.
  UNIQUE (id, workspace_id)
);
CREATE INDEX broker_connections_workspace ON broker_connections (workspace_id, created_at);

-- One row per live credential version. Shredding deletes the row: wrapped key and ciphertext go with it.
CREATE TABLE credential_versions (
  workspace_id    uuid NOT NULL,
  connection_id   uuid NOT NULL,
  version         integer NOT NULL CHECK (version >= 1),
  format_version  smallint NOT NULL CHECK (format_version = 1),
  algorithm       text NOT NULL CHECK (algorithm = 'AES-256-GCM'),
  kms_provider    text NOT NULL CHECK (kms_provider IN ('aws', 'local')),
  kms_key_id      text NOT NULL CHECK (length(kms_key_id) BETWEEN 1 AND 2048),
  wrapped_key     bytea NOT NULL CHECK (octet_length(wrapped_key) BETWEEN 1 AND 6144),
  iv              bytea NOT NULL CHECK (octet_length(iv) = 12),
  tag             bytea NOT NULL CHECK (octet_length(tag) = 16),
  ciphertext      bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 1 AND 65536),
  created_at      timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, version),
  FOREIGN KEY (connection_id, workspace_id) REFERENCES broker_connections (id, workspace_id)
);
CREATE INDEX credential_versions_rewrap ON credential_versions (workspace_id, kms_key_id);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['broker_connections', 'credential_versions'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

-- api: onboards, rotates and revokes. It writes sealed secrets and deletes them (crypto-shred),
-- reads only their metadata, and never updates one in place.
GRANT SELECT, INSERT ON broker_connections TO switchyard_api;
GRANT UPDATE (status, credential_version, key_hint, permissions, inspected_at, rotated_at, revoked_at, revoked_by, broker_revocation)
  ON broker_connections TO switchyard_api;
GRANT INSERT ON credential_versions TO switchyard_api;
GRANT SELECT (workspace_id, connection_id, version, format_version, algorithm, kms_provider, kms_key_id, created_at)
  ON credential_versions TO switchyard_api;
GRANT DELETE ON credential_versions TO switchyard_api;

-- worker: the only runtime role that may read a sealed secret (and only the KMS policy lets it open one).
GRANT SELECT ON broker_connections, credential_versions TO switchyard_worker;

-- `cli keys rewrap` runs as switchyard_owner, which FORCE RLS scopes to one workspace at a time:
-- this SECURITY DEFINER lookup (run as switchyard_resolver, which may read only workspace_id) lists them.
CREATE POLICY resolver_scan ON credential_versions FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (workspace_id) ON credential_versions TO switchyard_resolver;

CREATE FUNCTION credential_workspaces() RETURNS TABLE (workspace_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT DISTINCT v.workspace_id FROM credential_versions v $$;

ALTER FUNCTION credential_workspaces() OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION credential_workspaces() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION credential_workspaces() TO switchyard_owner;
