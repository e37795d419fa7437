-- Bracket legs as orders of their own (issue 20): a take-profit or stop-loss leg the broker created for an entry is
-- an `orders` row pointing at that entry, followed at the broker like any order, so its fills count in positions,
-- realised P&L and the loss guard. A leg shares its entry's signal, route and leg number.
ALTER TABLE orders ADD COLUMN parent_order_id uuid;
ALTER TABLE orders ADD COLUMN bracket_role text CHECK (bracket_role IN ('take_profit', 'stop_loss'));
ALTER TABLE orders ADD CONSTRAINT orders_parent FOREIGN KEY (workspace_id, parent_order_id) REFERENCES orders (workspace_id, id);
-- A role only with a parent, and every leg has one.
ALTER TABLE orders ADD CONSTRAINT orders_leg_role CHECK ((parent_order_id IS NULL) = (bracket_role IS NULL));

-- One planned order per (signal, route, leg); legs are the broker's, keyed by its leg order id under their entry.
ALTER TABLE orders DROP CONSTRAINT orders_signal_route_leg;
CREATE UNIQUE INDEX orders_signal_route_leg ON orders (signal_id, route_id, leg) WHERE parent_order_id IS NULL;
CREATE UNIQUE INDEX orders_bracket_legs ON orders (parent_order_id, broker_order_id) WHERE parent_order_id IS NOT NULL;

-- The paper broker's legs: resting once their entry filled, ids `<entry client order id>-tp` / `-sl`; the entry keeps
-- the prices its legs get until then.
ALTER TABLE paper_orders ADD COLUMN parent_id uuid REFERENCES paper_orders (id);
ALTER TABLE paper_orders ADD COLUMN bracket_role text CHECK (bracket_role IN ('take_profit', 'stop_loss'));
ALTER TABLE paper_orders ADD CONSTRAINT paper_orders_leg_role CHECK ((parent_id IS NULL) = (bracket_role IS NULL));
ALTER TABLE paper_orders ADD COLUMN take_profit numeric;
ALTER TABLE paper_orders ADD COLUMN stop_loss numeric;
ALTER TABLE paper_orders ADD COLUMN stop_loss_limit numeric;
CREATE INDEX paper_orders_parent ON paper_orders (parent_id) WHERE parent_id IS NOT NULL;
