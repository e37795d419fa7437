-- The built-in paper broker's book: its orders and positions, per connection, tenant-isolated.
CREATE TABLE paper_orders (
  id               uuid PRIMARY KEY,
  workspace_id     uuid NOT NULL REFERENCES workspaces(id),
  connection_id    uuid NOT NULL,
  client_order_id  text NOT NULL,
  symbol           text NOT NULL,
  side             text NOT NULL CHECK (side IN ('buy', 'sell')),
  order_type       text NOT NULL,
  quantity         numeric NOT NULL CHECK (quantity > 0),
  limit_price      numeric,
  stop_price       numeric,
  status           text NOT NULL CHECK (status IN ('accepted', 'filled', 'canceled')),
  fill_price       numeric,
  created_at       timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (connection_id, client_order_id)
);

CREATE TABLE paper_positions (
  workspace_id   uuid NOT NULL REFERENCES workspaces(id),
  connection_id  uuid NOT NULL,
  symbol         text NOT NULL,
  quantity       numeric NOT NULL DEFAULT 0,
  PRIMARY KEY (connection_id, symbol)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['paper_orders', 'paper_positions'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON paper_orders, paper_positions TO switchyard_worker;
GRANT SELECT ON paper_orders, paper_positions TO switchyard_api;
