-- Routes (source → connection) and the orders routing creates from signals.

-- Composite keys so a route or order can only point at rows of its own workspace
-- (a plain FK is checked without RLS and would accept another workspace's id).
CREATE UNIQUE INDEX signals_workspace_id_id ON signals (workspace_id, id);

CREATE TABLE routes (
  id                     uuid PRIMARY KEY,
  workspace_id           uuid NOT NULL REFERENCES workspaces(id),
  source_id              uuid NOT NULL,
  connection_id          uuid NOT NULL,
  enabled                boolean NOT NULL DEFAULT true,
  sizing_mode            text NOT NULL CHECK (sizing_mode IN ('fixed', 'multiplier', 'notional', 'percent_equity')),
  sizing_value           numeric NOT NULL CHECK (sizing_value > 0),
  symbol_map             jsonb NOT NULL DEFAULT '{}'::jsonb,
  allowed_symbols        text[],
  max_quantity           numeric CHECK (max_quantity > 0),
  max_notional           numeric CHECK (max_notional > 0),
  max_orders_per_minute  integer CHECK (max_orders_per_minute > 0),
  created_at             timestamptz(3) NOT NULL DEFAULT now(),
  updated_at             timestamptz(3) NOT NULL DEFAULT now(),
  deleted_at             timestamptz(3),
  FOREIGN KEY (workspace_id, source_id) REFERENCES sources (workspace_id, id),
  FOREIGN KEY (connection_id, workspace_id) REFERENCES broker_connections (id, workspace_id)
);
CREATE INDEX routes_source_enabled ON routes (source_id) WHERE enabled AND deleted_at IS NULL;

CREATE TABLE orders (
  id                uuid PRIMARY KEY,
  workspace_id      uuid NOT NULL REFERENCES workspaces(id),
  signal_id         uuid NOT NULL,
  route_id          uuid NOT NULL REFERENCES routes(id),
  connection_id     uuid NOT NULL,
  broker            text NOT NULL,
  -- Deterministic from (signal, route): stable across job retries, unique at the broker.
  client_order_id   text NOT NULL UNIQUE,
  -- The signal's arrival sequence: orders of one connection execute in this order.
  signal_seq        bigint NOT NULL,
  intent            text NOT NULL CHECK (intent IN ('entry', 'exit', 'cancel')),
  symbol            text NOT NULL,
  side              text CHECK (side IN ('buy', 'sell')),
  order_type        text NOT NULL,
  quantity          numeric,
  limit_price       numeric,
  stop_price        numeric,
  time_in_force     text,
  take_profit       numeric,
  stop_loss         numeric,
  reference_price   numeric,
  status            text NOT NULL CHECK (status IN ('pending', 'submitted', 'accepted', 'filled', 'rejected', 'failed', 'blocked')),
  reason            text,
  broker_order_id   text,
  filled_quantity   numeric,
  average_price     numeric,
  attempts          integer NOT NULL DEFAULT 0,
  routing_job_id    text,
  created_at        timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  sent_at           timestamptz(3),
  acknowledged_at   timestamptz(3),
  updated_at        timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  FOREIGN KEY (workspace_id, signal_id) REFERENCES signals (workspace_id, id),
  FOREIGN KEY (connection_id, workspace_id) REFERENCES broker_connections (id, workspace_id),
  UNIQUE (signal_id, route_id)
);
CREATE INDEX orders_signal ON orders (signal_id);
CREATE INDEX orders_connection_open ON orders (connection_id, signal_seq) WHERE status IN ('pending', 'submitted');
CREATE INDEX orders_route_recent ON orders (route_id, created_at);
CREATE INDEX orders_workspace_created ON orders (workspace_id, created_at DESC);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['routes', 'orders'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON routes TO switchyard_api;
GRANT SELECT ON routes TO switchyard_worker;
GRANT SELECT ON orders TO switchyard_api;
GRANT SELECT, INSERT, UPDATE ON orders TO switchyard_worker;
