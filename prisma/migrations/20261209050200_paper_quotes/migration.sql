-- The paper broker fills resting limit and stop orders when a later price crosses them (issue 25). Prices come
-- from the signals routed to the connection and from POST /v1/connections/:id/paper/quotes; each is kept until
-- no order resting on the symbol is older than it, so a cross between two looks is not missed.
CREATE TABLE paper_quotes (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id   uuid NOT NULL REFERENCES workspaces(id),
  connection_id  uuid NOT NULL,
  symbol         text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 64),
  price          numeric NOT NULL CHECK (price > 0),
  quoted_at      timestamptz(6) NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX paper_quotes_symbol ON paper_quotes (connection_id, symbol, quoted_at, id);

ALTER TABLE paper_quotes ENABLE ROW LEVEL SECURITY;
ALTER TABLE paper_quotes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON paper_quotes USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace());

GRANT SELECT, INSERT, DELETE ON paper_quotes TO switchyard_worker;
GRANT INSERT ON paper_quotes TO switchyard_api;

-- When a resting order filled (a fill's time; orders filled on arrival fill at created_at).
ALTER TABLE paper_orders ADD COLUMN filled_at timestamptz(3);
