-- Order lifecycle: an order is followed at its broker after its first answer until it ends (filled,
-- canceled, expired or rejected). Every status change is a transition row with its time; every fill
-- is a row, unique per order and broker fill id, so a fill seen twice (a re-poll, a replay) counts once.

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
  CHECK (status IN ('pending', 'submitted', 'accepted', 'partially_filled', 'filled', 'canceled', 'expired', 'rejected', 'failed', 'blocked', 'skipped'));

-- The poller's schedule: when the order is next asked for at its broker, and how many asks in a row failed (backoff).
ALTER TABLE orders ADD COLUMN next_sync_at timestamptz(3);
ALTER TABLE orders ADD COLUMN sync_failures integer NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN synced_at timestamptz(3);
-- A cancel signal's order is no order at the broker (it cancels others): nothing to follow.
CREATE INDEX orders_sync_due ON orders (next_sync_at) WHERE status IN ('accepted', 'partially_filled') AND intent <> 'cancel';

-- Composite key so a transition or fill can only point at an order of its own workspace.
CREATE UNIQUE INDEX orders_workspace_id_id ON orders (workspace_id, id);

CREATE TABLE order_transitions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id  uuid NOT NULL,
  order_id      uuid NOT NULL,
  from_status   text,
  to_status     text NOT NULL,
  at            timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  FOREIGN KEY (workspace_id, order_id) REFERENCES orders (workspace_id, id)
);
CREATE INDEX order_transitions_order ON order_transitions (order_id, at);

CREATE TABLE order_fills (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id    uuid NOT NULL,
  order_id        uuid NOT NULL,
  broker_fill_id  text NOT NULL CHECK (length(broker_fill_id) BETWEEN 1 AND 200),
  quantity        numeric NOT NULL CHECK (quantity > 0),
  price           numeric NOT NULL CHECK (price > 0),
  fee             numeric,
  filled_at       timestamptz(3) NOT NULL,
  recorded_at     timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  FOREIGN KEY (workspace_id, order_id) REFERENCES orders (workspace_id, id),
  UNIQUE (order_id, broker_fill_id)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['order_transitions', 'order_fills'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

GRANT SELECT ON order_transitions, order_fills TO switchyard_api;
GRANT SELECT, INSERT ON order_transitions, order_fills TO switchyard_worker;

-- The poller finds due orders across workspaces through this SECURITY DEFINER function only (run as
-- switchyard_resolver, which may read just these columns); it then works inside each order's workspace.
CREATE POLICY resolver_scan ON orders FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (id, workspace_id, broker, intent, status, next_sync_at) ON orders TO switchyard_resolver;

-- Without p_sweep_after: the orders due for a poll. With it: every working order after that id (the
-- reconciliation sweep at start-up pages through all of them by id, whatever their schedule).
CREATE FUNCTION orders_sync_due(p_brokers text[], p_limit integer, p_sweep_after uuid) RETURNS TABLE (id uuid, workspace_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT o.id, o.workspace_id FROM orders o
   WHERE o.status IN ('accepted', 'partially_filled') AND o.intent <> 'cancel' AND o.broker = ANY(p_brokers)
     AND CASE WHEN p_sweep_after IS NULL THEN o.next_sync_at IS NULL OR o.next_sync_at <= now() ELSE o.id > p_sweep_after END
   ORDER BY CASE WHEN p_sweep_after IS NULL THEN o.next_sync_at END NULLS FIRST, o.id
   LIMIT p_limit
$$;
ALTER FUNCTION orders_sync_due(text[], integer, uuid) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION orders_sync_due(text[], integer, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION orders_sync_due(text[], integer, uuid) TO switchyard_worker;
