-- Manual approval (issue 25): a route (or, by default, its workspace) may hold its orders for a person to approve.
-- Such an order is planned as `awaiting_approval` with an expiry; approve hands it to the worker (`pending`),
-- reject ends it `rejected`, and the worker's sweep ends an unanswered one `expired`. Every step is a transition row.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
  CHECK (status IN ('awaiting_approval', 'pending', 'submitted', 'accepted', 'partially_filled', 'filled', 'canceled', 'expired', 'rejected', 'failed', 'blocked', 'skipped'));
ALTER TABLE orders ADD COLUMN approval_expires_at timestamptz(3);
-- When the approval was decided (approved, rejected or expired): the sweep re-queues a decision whose job was lost.
ALTER TABLE orders ADD COLUMN approval_decided_at timestamptz(3);
ALTER TABLE orders ADD CONSTRAINT orders_awaiting_has_expiry CHECK (status <> 'awaiting_approval' OR approval_expires_at IS NOT NULL);
CREATE INDEX orders_awaiting_approval ON orders (approval_expires_at) WHERE status = 'awaiting_approval';
CREATE INDEX orders_approval_decided ON orders (approval_decided_at) WHERE approval_decided_at IS NOT NULL AND status IN ('pending', 'rejected', 'expired');

-- null: the workspace's setting (itself null: auto). The workspace's `manual` holds every route's orders.
ALTER TABLE routes ADD COLUMN approval text CHECK (approval IN ('auto', 'manual'));
ALTER TABLE routes ADD COLUMN approval_expiry_seconds integer CHECK (approval_expiry_seconds BETWEEN 10 AND 86400);
ALTER TABLE workspaces ADD COLUMN approval text CHECK (approval IN ('auto', 'manual'));
ALTER TABLE workspaces ADD COLUMN approval_expiry_seconds integer CHECK (approval_expiry_seconds BETWEEN 10 AND 86400);

-- The api records a reviewer's decision: only these columns of orders, the transition row, and (through the
-- order-webhooks trigger, which runs as the role recording the transition) the outbox row of a rejection.
GRANT UPDATE (status, reason, approval_decided_at, updated_at) ON orders TO switchyard_api;
GRANT INSERT ON order_transitions TO switchyard_api;
GRANT INSERT ON webhook_deliveries TO switchyard_api;

-- The worker's approval sweep finds, across workspaces, orders whose approval expired and decisions whose job may
-- have been lost, through this SECURITY DEFINER scan only (run as the resolver, which reads just these columns).
GRANT SELECT (signal_id, approval_expires_at, approval_decided_at) ON orders TO switchyard_resolver;

CREATE FUNCTION approvals_due(p_decided_before_ms integer, p_limit integer) RETURNS TABLE (workspace_id uuid, order_id uuid, signal_id uuid, due text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  (SELECT o.workspace_id, o.id, o.signal_id, 'expire' FROM orders o
    WHERE o.status = 'awaiting_approval' AND o.approval_expires_at <= clock_timestamp()
    ORDER BY o.approval_expires_at LIMIT p_limit)
  UNION ALL
  (SELECT o.workspace_id, o.id, o.signal_id, 'requeue' FROM orders o JOIN signals s ON s.id = o.signal_id
    WHERE o.approval_decided_at IS NOT NULL AND o.status IN ('pending', 'rejected', 'expired')
      AND o.approval_decided_at < clock_timestamp() - p_decided_before_ms * interval '1 millisecond'
      AND s.status IN ('received', 'queued', 'routing')
      -- A declined order's job only settles the signal: pointless while another of its orders still waits.
      AND (o.status = 'pending' OR NOT EXISTS (SELECT 1 FROM orders x WHERE x.signal_id = o.signal_id AND x.status = 'awaiting_approval'))
    ORDER BY o.approval_decided_at LIMIT p_limit)
$$;
ALTER FUNCTION approvals_due(integer, integer) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION approvals_due(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION approvals_due(integer, integer) TO switchyard_worker;
