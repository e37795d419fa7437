-- Positions and account at the broker (issue 20). The api never calls a broker: it asks the worker for a
-- snapshot (request_id) and reads what the worker last stored (positions, account, fetched_at).
CREATE TABLE connection_snapshots (
  connection_id        uuid PRIMARY KEY,
  workspace_id         uuid NOT NULL,
  positions            jsonb,
  account              jsonb,
  fetched_at           timestamptz(3),
  -- The last fetch's failure, safe to show (null after a successful fetch).
  error                text CHECK (length(error) <= 500),
  -- The latest request the api made, and the latest one the worker answered (success or failure).
  request_id           uuid,
  requested_at         timestamptz(3),
  answered_request_id  uuid,
  FOREIGN KEY (connection_id, workspace_id) REFERENCES broker_connections (id, workspace_id)
);

-- A flatten: cancel the open orders and close the positions of one connection, or of every active one.
CREATE TABLE flattens (
  id                 uuid PRIMARY KEY,
  workspace_id       uuid NOT NULL REFERENCES workspaces (id),
  scope              text NOT NULL CHECK (scope IN ('connection', 'workspace')),
  reason             text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  requested_by_type  text NOT NULL,
  requested_by       text,
  created_at         timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (id, workspace_id)
);

CREATE TABLE flatten_connections (
  workspace_id     uuid NOT NULL,
  flatten_id       uuid NOT NULL,
  connection_id    uuid NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  canceled_orders  integer,
  error            text CHECK (length(error) <= 1000),
  attempts         integer NOT NULL DEFAULT 0,
  updated_at       timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (flatten_id, connection_id),
  UNIQUE (flatten_id, connection_id, workspace_id),
  FOREIGN KEY (flatten_id, workspace_id) REFERENCES flattens (id, workspace_id),
  FOREIGN KEY (connection_id, workspace_id) REFERENCES broker_connections (id, workspace_id)
);

-- The closing orders: one per (flatten, connection, symbol), its client order id derived from those, so a
-- redelivered job finds the row (and the broker the id) and never closes twice.
CREATE TABLE flatten_orders (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id     uuid NOT NULL,
  flatten_id       uuid NOT NULL,
  connection_id    uuid NOT NULL,
  symbol           text NOT NULL,
  side             text NOT NULL CHECK (side IN ('buy', 'sell')),
  quantity         numeric NOT NULL CHECK (quantity > 0),
  client_order_id  text NOT NULL,
  broker_order_id  text,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'accepted', 'partially_filled', 'filled', 'canceled', 'expired', 'rejected')),
  filled_quantity  numeric,
  average_price    numeric,
  reason           text CHECK (length(reason) <= 1000),
  created_at       timestamptz(3) NOT NULL DEFAULT now(),
  updated_at       timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (flatten_id, connection_id, symbol),
  FOREIGN KEY (flatten_id, connection_id, workspace_id) REFERENCES flatten_connections (flatten_id, connection_id, workspace_id)
);
CREATE INDEX flatten_orders_flatten ON flatten_orders (flatten_id, created_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['connection_snapshots', 'flattens', 'flatten_connections', 'flatten_orders'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

-- The api asks (request columns) and reads; the worker answers (snapshot columns).
GRANT SELECT, INSERT ON connection_snapshots TO switchyard_api;
GRANT UPDATE (request_id, requested_at) ON connection_snapshots TO switchyard_api;
GRANT SELECT ON connection_snapshots TO switchyard_worker;
GRANT UPDATE (positions, account, fetched_at, error, answered_request_id) ON connection_snapshots TO switchyard_worker;

GRANT SELECT, INSERT ON flattens, flatten_connections TO switchyard_api;
GRANT SELECT ON flatten_orders TO switchyard_api;
GRANT SELECT ON flattens TO switchyard_worker;
GRANT SELECT ON flatten_connections TO switchyard_worker;
GRANT UPDATE (status, canceled_orders, error, attempts, updated_at) ON flatten_connections TO switchyard_worker;
GRANT SELECT, INSERT ON flatten_orders TO switchyard_worker;
GRANT UPDATE (broker_order_id, status, filled_quantity, average_price, reason, quantity, side, updated_at) ON flatten_orders TO switchyard_worker;

-- The worker's recovery sweep finds flattens of a connection still pending a while after their request (the
-- api's job add failed, or Redis lost it) through this SECURITY DEFINER scan only, and adds the job again.
CREATE INDEX flatten_connections_pending ON flatten_connections (updated_at) WHERE status = 'pending';
CREATE POLICY resolver_scan ON flatten_connections FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (workspace_id, flatten_id, connection_id, status, updated_at) ON flatten_connections TO switchyard_resolver;

CREATE FUNCTION flattens_unqueued(p_older_than_ms integer, p_limit integer) RETURNS TABLE (workspace_id uuid, flatten_id uuid, connection_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT f.workspace_id, f.flatten_id, f.connection_id FROM flatten_connections f
   WHERE f.status = 'pending' AND f.updated_at < now() - p_older_than_ms * interval '1 millisecond'
   ORDER BY f.updated_at
   LIMIT p_limit
$$;
ALTER FUNCTION flattens_unqueued(integer, integer) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION flattens_unqueued(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION flattens_unqueued(integer, integer) TO switchyard_worker;
