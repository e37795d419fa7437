-- Audit trail (append-only, hash-chained per workspace) and paging (alerts + persisted deliveries).
-- Runs as switchyard_owner after 20261122000100_foundation.
--
-- Platform-level events (platform kill switch) live in their own chain under the nil workspace id
-- 00000000-0000-0000-0000-000000000000, so workspace_id carries no foreign key (audit also
-- outlives the rows it talks about).

CREATE TABLE audit_events (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id  uuid NOT NULL,
  -- seq, prev_hash and hash are NULL until the sealer chains the event (see audit_seal).
  seq           bigint CHECK (seq > 0),
  prev_hash     bytea CHECK (octet_length(prev_hash) = 32),
  hash          bytea CHECK (octet_length(hash) = 32),
  occurred_at   timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  actor_type    text NOT NULL CHECK (actor_type IN ('user', 'token', 'system', 'worker', 'platform')),
  actor_id      text CHECK (length(actor_id) <= 200),
  ip            text CHECK (length(ip) <= 100),
  action        text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
  resource_type text NOT NULL CHECK (length(resource_type) BETWEEN 1 AND 100),
  resource_id   text CHECK (length(resource_id) <= 200),
  reason        text CHECK (length(reason) <= 2000),
  request_id    text CHECK (length(request_id) <= 200),
  metadata      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL))
);
-- The hot insert touches two indexes (primary key, unsealed); the chain and filter indexes cover
-- sealed rows only, so their cost moves to the batched seal (whose UPDATE writes every index anyway).
CREATE INDEX audit_events_unsealed ON audit_events (workspace_id, id) WHERE seq IS NULL;
CREATE UNIQUE INDEX audit_events_chain ON audit_events (workspace_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_events_action ON audit_events (workspace_id, action, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_events_resource ON audit_events (workspace_id, resource_type, resource_id, seq) WHERE seq IS NOT NULL;

-- Signed heads of the chain: HMAC by a key held outside the database, so a consistently
-- rewritten chain still disagrees with an earlier checkpoint.
CREATE TABLE audit_checkpoints (
  workspace_id  uuid NOT NULL,
  seq           bigint NOT NULL CHECK (seq > 0),
  head_hash     bytea NOT NULL CHECK (octet_length(head_hash) = 32),
  key_id        text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 64),
  signature     bytea NOT NULL CHECK (octet_length(signature) = 32),
  signed_at     timestamptz(3) NOT NULL,
  PRIMARY KEY (workspace_id, seq)
);

-- Append-only, even for the owner. The one UPDATE allowed is sealing: seq/prev_hash/hash go
-- from NULL to set while every other column stays the same.
CREATE FUNCTION audit_events_guard() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
     AND to_jsonb(OLD) - ARRAY['seq', 'prev_hash', 'hash'] = to_jsonb(NEW) - ARRAY['seq', 'prev_hash', 'hash'] THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION audit_reject_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- Sealing without UPDATE for the runtime roles: the caller computes the hashes (the canonical
-- encoding lives in src/audit/audit-chain.ts), this function checks that they extend the current
-- head of the caller's workspace and fills only unsealed rows. Verification recomputes every hash.
CREATE FUNCTION audit_seal(p_first_seq bigint, p_ids bigint[], p_prev bytea[], p_hash bytea[]) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  ws uuid := app_current_workspace();
  n integer := coalesce(cardinality(p_ids), 0);
  head_seq bigint;
  head_hash bytea;
  sealed integer;
BEGIN
  IF ws IS NULL THEN
    RAISE EXCEPTION 'audit_seal: no workspace set';
  END IF;
  IF n = 0 OR cardinality(p_prev) <> n OR cardinality(p_hash) <> n THEN
    RAISE EXCEPTION 'audit_seal: ids, previous hashes and hashes must be non-empty and of equal length';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('switchyard.audit_seal'), hashtext(ws::text));
  SELECT e.seq, e.hash INTO head_seq, head_hash
    FROM audit_events e WHERE e.workspace_id = ws AND e.seq IS NOT NULL ORDER BY e.seq DESC LIMIT 1;
  IF p_first_seq <> coalesce(head_seq, 0) + 1 OR p_prev[1] <> coalesce(head_hash, decode(repeat('00', 32), 'hex')) THEN
    RAISE EXCEPTION 'audit_seal: the batch does not extend the chain head';
  END IF;
  FOR i IN 2..n LOOP
    IF p_prev[i] IS DISTINCT FROM p_hash[i - 1] THEN
      RAISE EXCEPTION 'audit_seal: the batch is not linked at position %', i;
    END IF;
  END LOOP;
  UPDATE audit_events e SET seq = p_first_seq + b.ord - 1, prev_hash = b.prev, hash = b.hash
    FROM unnest(p_ids, p_prev, p_hash) WITH ORDINALITY AS b(id, prev, hash, ord)
    WHERE e.id = b.id AND e.workspace_id = ws AND e.seq IS NULL;
  GET DIAGNOSTICS sealed = ROW_COUNT;
  IF sealed <> n THEN
    RAISE EXCEPTION 'audit_seal: % of % events were not unsealed events of this workspace', n - sealed, n;
  END IF;
  RETURN p_first_seq + n - 1;
END $$;

CREATE TABLE alerts (
  id              uuid PRIMARY KEY,
  workspace_id    uuid NOT NULL,
  rule            text NOT NULL CHECK (length(rule) BETWEEN 1 AND 100),
  resource_type   text NOT NULL CHECK (length(resource_type) BETWEEN 1 AND 100),
  resource_id     text NOT NULL DEFAULT '' CHECK (length(resource_id) <= 200),
  severity        text NOT NULL CHECK (severity IN ('critical', 'error', 'warning', 'info')),
  summary         text NOT NULL CHECK (length(summary) BETWEEN 1 AND 1024),
  details         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  occurrences     integer NOT NULL DEFAULT 1,
  first_raised_at timestamptz(3) NOT NULL DEFAULT now(),
  last_raised_at  timestamptz(3) NOT NULL DEFAULT now(),
  acknowledged_at timestamptz(3),
  acknowledged_by text,
  resolved_at     timestamptz(3),
  resolved_by     text
);
-- Deduplication: one unresolved alert per rule and resource.
CREATE UNIQUE INDEX alerts_unresolved ON alerts (workspace_id, rule, resource_type, resource_id) WHERE status <> 'resolved';
CREATE INDEX alerts_recent ON alerts (workspace_id, first_raised_at DESC, id DESC);

CREATE TABLE alert_deliveries (
  id              uuid PRIMARY KEY,
  workspace_id    uuid NOT NULL,
  alert_id        uuid NOT NULL REFERENCES alerts(id),
  -- Deliveries of one alert to one channel go out in this order (a trigger before its acknowledge).
  ordinal         bigint GENERATED ALWAYS AS IDENTITY,
  channel         text NOT NULL CHECK (channel IN ('pagerduty', 'slack', 'webhook', 'log')),
  event_action    text NOT NULL CHECK (event_action IN ('trigger', 'acknowledge', 'resolve')),
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz(3) NOT NULL DEFAULT now(),
  locked_until    timestamptz(3),
  last_error      text CHECK (length(last_error) <= 500),
  created_at      timestamptz(3) NOT NULL DEFAULT now(),
  delivered_at    timestamptz(3)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id, channel, ordinal);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['audit_events', 'audit_checkpoints', 'alerts', 'alert_deliveries'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

-- Cross-workspace scans (the sealer finding work, `audit verify` of every workspace, the pager
-- dispatcher finding due deliveries) go through these SECURITY DEFINER functions only; they run
-- as switchyard_resolver, which may only SELECT the columns they read.
CREATE POLICY resolver_scan ON audit_events FOR SELECT TO switchyard_resolver USING (true);
CREATE POLICY resolver_scan ON audit_checkpoints FOR SELECT TO switchyard_resolver USING (true);
CREATE POLICY resolver_scan ON alert_deliveries FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (workspace_id, seq) ON audit_events TO switchyard_resolver;
GRANT SELECT (workspace_id) ON audit_checkpoints TO switchyard_resolver;
GRANT SELECT (id, workspace_id, alert_id, ordinal, channel, status, next_attempt_at, locked_until) ON alert_deliveries TO switchyard_resolver;

CREATE FUNCTION audit_unsealed_workspaces() RETURNS TABLE (workspace_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT DISTINCT e.workspace_id FROM audit_events e WHERE e.seq IS NULL $$;

-- Every workspace with a chain or a checkpoint; a loose index scan, not a pass over all events.
CREATE FUNCTION audit_chain_workspaces() RETURNS TABLE (workspace_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  WITH RECURSIVE w(id) AS (
    (SELECT e.workspace_id FROM audit_events e ORDER BY e.workspace_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.workspace_id FROM audit_events e WHERE e.workspace_id > w.id ORDER BY e.workspace_id LIMIT 1)
      FROM w WHERE w.id IS NOT NULL
  )
  SELECT id FROM w WHERE id IS NOT NULL
  UNION
  SELECT DISTINCT c.workspace_id FROM audit_checkpoints c
$$;

CREATE FUNCTION alert_due_deliveries(p_limit integer) RETURNS TABLE (id uuid, workspace_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT d.id, d.workspace_id FROM alert_deliveries d
   WHERE d.status = 'pending' AND d.next_attempt_at <= now()
     AND (d.locked_until IS NULL OR d.locked_until <= now())
     AND NOT EXISTS (SELECT 1 FROM alert_deliveries p
                      WHERE p.alert_id = d.alert_id AND p.channel = d.channel
                        AND p.status = 'pending' AND p.ordinal < d.ordinal)
   ORDER BY d.next_attempt_at
   LIMIT p_limit
$$;

ALTER FUNCTION audit_unsealed_workspaces() OWNER TO switchyard_resolver;
ALTER FUNCTION audit_chain_workspaces() OWNER TO switchyard_resolver;
ALTER FUNCTION alert_due_deliveries(integer) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION audit_seal(bigint, bigint[], bytea[], bytea[]), audit_unsealed_workspaces(),
  audit_chain_workspaces(), alert_due_deliveries(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_seal(bigint, bigint[], bytea[], bytea[]), audit_unsealed_workspaces(),
  audit_chain_workspaces(), alert_due_deliveries(integer) TO switchyard_api, switchyard_worker;

-- Runtime roles append events (never choosing seq, hashes or time) and read them; no UPDATE,
-- DELETE or TRUNCATE. Alerts are mutable state: they are not the audit trail.
GRANT INSERT (workspace_id, actor_type, actor_id, ip, action, resource_type, resource_id, reason, request_id, metadata)
  ON audit_events TO switchyard_api, switchyard_worker;
GRANT SELECT ON audit_events TO switchyard_api, switchyard_worker;
GRANT SELECT, INSERT ON audit_checkpoints TO switchyard_api, switchyard_worker;
GRANT SELECT, INSERT, UPDATE ON alerts, alert_deliveries TO switchyard_api, switchyard_worker;
