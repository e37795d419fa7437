-- Signal ingestion: webhook sources, their secrets (versioned for rotation), and the signals
-- they deliver. Runs as switchyard_owner after 20261122000300_audit.

CREATE TABLE sources (
  id            uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces(id),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  auth_mode     text NOT NULL CHECK (auth_mode IN ('hmac', 'token')),
  -- IPs, CIDR ranges or the preset name 'tradingview' (expanded at check time, so the preset can be updated).
  allowed_ips   text[] NOT NULL DEFAULT '{}' CHECK (cardinality(allowed_ips) <= 100),
  -- The current secret version; older versions stay valid until their expires_at (rotation grace).
  secret_version integer NOT NULL DEFAULT 1 CHECK (secret_version > 0),
  created_by    text CHECK (length(created_by) <= 200),
  created_at    timestamptz(3) NOT NULL DEFAULT now(),
  deleted_at    timestamptz(3),
  -- Lets children reference (workspace_id, id), so a row can never point at another workspace's source.
  UNIQUE (workspace_id, id)
);
CREATE INDEX sources_workspace ON sources (workspace_id, created_at);

-- token mode: SHA-256 of the URL token; hmac mode: the signing key sealed in the envelope format
-- (KMS purpose webhook-secret, context {workspaceId, sourceId, version}).
CREATE TABLE source_secrets (
  workspace_id   uuid NOT NULL,
  source_id      uuid NOT NULL,
  version        integer NOT NULL CHECK (version > 0),
  token_hash     bytea CHECK (octet_length(token_hash) = 32),
  format_version smallint,
  algorithm      text,
  kms_key_id     text,
  wrapped_key    bytea,
  iv             bytea,
  tag            bytea,
  ciphertext     bytea,
  created_at     timestamptz(3) NOT NULL DEFAULT now(),
  -- NULL while current; the end of the grace period once rotated; now() when the source is deleted.
  expires_at     timestamptz(3),
  -- Crypto-shredded: the token hash and sealed bytes are gone, the row stays as history.
  destroyed_at   timestamptz(3),
  PRIMARY KEY (source_id, version),
  FOREIGN KEY (workspace_id, source_id) REFERENCES sources (workspace_id, id),
  CHECK (num_nulls(format_version, algorithm, kms_key_id, wrapped_key, iv, tag, ciphertext) IN (0, 7)),
  CHECK (CASE WHEN destroyed_at IS NULL THEN (token_hash IS NULL) <> (ciphertext IS NULL)
              ELSE token_hash IS NULL AND ciphertext IS NULL END)
);

CREATE TABLE signals (
  id                 uuid PRIMARY KEY,
  workspace_id       uuid NOT NULL REFERENCES workspaces(id),
  source_id          uuid NOT NULL,
  -- Arrival order across all signals (identity: no sequence grant needed); routing orders per connection by it.
  seq                bigint GENERATED ALWAYS AS IDENTITY,
  -- 'wh:<webhook-id>' | 'id:<body id>' | 'body:<sha256 of the raw body>:<time bucket>'
  idempotency_key    text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 300),
  -- The exact body received (unknown fields included, never trusted); payload holds only validated fields.
  raw_payload        text NOT NULL,
  payload            jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
  status             text NOT NULL DEFAULT 'received'
                     CHECK (status IN ('received', 'queued', 'routing', 'routed', 'partially_routed', 'blocked', 'failed')),
  error              text CHECK (length(error) <= 2000),
  sender_ip          text CHECK (length(sender_ip) <= 100),
  request_id         text CHECK (length(request_id) <= 200),
  received_at        timestamptz(3) NOT NULL DEFAULT now(),
  enqueued_at        timestamptz(3),
  routing_started_at timestamptz(3),
  completed_at       timestamptz(3),
  FOREIGN KEY (workspace_id, source_id) REFERENCES sources (workspace_id, id),
  UNIQUE (workspace_id, source_id, idempotency_key)
);
CREATE INDEX signals_recent ON signals (workspace_id, received_at DESC, id DESC);
CREATE INDEX signals_source ON signals (workspace_id, source_id, received_at DESC);
-- The recovery sweep's work list: persisted but not (yet) known to be enqueued.
CREATE INDEX signals_awaiting_enqueue ON signals (received_at) WHERE status = 'received';

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['sources', 'source_secrets', 'signals'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

-- A webhook names only its source, so authentication must find the source before the workspace
-- is known; the recovery sweep lists un-enqueued signals of every workspace. Both go through
-- SECURITY DEFINER functions run as switchyard_resolver, which may only SELECT the columns they read.
CREATE POLICY resolver_lookup ON sources FOR SELECT TO switchyard_resolver USING (true);
CREATE POLICY resolver_lookup ON source_secrets FOR SELECT TO switchyard_resolver USING (true);
CREATE POLICY resolver_scan ON signals FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (id, workspace_id, auth_mode, allowed_ips, deleted_at) ON sources TO switchyard_resolver;
GRANT SELECT (source_id, version, token_hash, expires_at, destroyed_at) ON source_secrets TO switchyard_resolver;
GRANT SELECT (id, workspace_id, status, received_at) ON signals TO switchyard_resolver;

-- One row per secret version that authenticates right now (newest first); no row: unknown or deleted.
-- Sealed bytes are not returned: the api reads them inside the workspace's RLS scope.
CREATE FUNCTION hooks_resolve_source(p_source_id uuid)
  RETURNS TABLE (workspace_id uuid, auth_mode text, allowed_ips text[], secret_version integer, token_hash bytea)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT s.workspace_id, s.auth_mode, s.allowed_ips, k.version, k.token_hash
    FROM sources s JOIN source_secrets k ON k.source_id = s.id
   WHERE s.id = p_source_id AND s.deleted_at IS NULL
     AND k.destroyed_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
   ORDER BY k.version DESC
$$;

-- Signals persisted more than p_older_than_ms ago and still not marked enqueued (ids only).
CREATE FUNCTION signals_awaiting_enqueue(p_older_than_ms integer, p_limit integer)
  RETURNS TABLE (id uuid, workspace_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT g.id, g.workspace_id FROM signals g
   WHERE g.status = 'received' AND g.received_at < now() - make_interval(secs => p_older_than_ms / 1000.0)
   ORDER BY g.received_at
   LIMIT p_limit
$$;

ALTER FUNCTION hooks_resolve_source(uuid) OWNER TO switchyard_resolver;
ALTER FUNCTION signals_awaiting_enqueue(integer, integer) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION hooks_resolve_source(uuid), signals_awaiting_enqueue(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hooks_resolve_source(uuid), signals_awaiting_enqueue(integer, integer) TO switchyard_api;

-- The api manages sources and their secrets (it seals webhook secrets and opens them to verify).
GRANT SELECT, INSERT ON sources TO switchyard_api;
GRANT UPDATE (name, allowed_ips, secret_version, deleted_at) ON sources TO switchyard_api;
GRANT SELECT, INSERT ON source_secrets TO switchyard_api;
GRANT UPDATE (expires_at, destroyed_at, token_hash, format_version, algorithm, kms_key_id, wrapped_key, iv, tag, ciphertext)
  ON source_secrets TO switchyard_api;
-- The worker reads sources (routes hang off them) but never their secrets.
GRANT SELECT ON sources TO switchyard_worker;

-- The api persists signals and marks them enqueued; the worker moves them through routing.
GRANT SELECT, INSERT ON signals TO switchyard_api;
GRANT UPDATE (status, enqueued_at) ON signals TO switchyard_api;
GRANT SELECT ON signals TO switchyard_worker;
GRANT UPDATE (status, error, routing_started_at, completed_at) ON signals TO switchyard_worker;
