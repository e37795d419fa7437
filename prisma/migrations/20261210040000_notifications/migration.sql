-- Notifications to the people of a workspace (issue 25): per-member preferences, an outbox written by triggers in the
-- transaction of the event (an order transition, a plan-time block, a loss-limit audit event), and per-member mailboxes
-- the worker's mail loop keeps its digest schedule and retries in.

-- The kinds a member is mailed about when she has not chosen: everything but fills. The API reads it from here.
CREATE FUNCTION notification_default_kinds() RETURNS text[]
  LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp
  AS $$ SELECT ARRAY['rejections', 'blocks', 'limit_breaches', 'approvals_waiting']::text[] $$;

CREATE TABLE notification_preferences (
  member_id    uuid PRIMARY KEY REFERENCES members(id),
  workspace_id uuid NOT NULL REFERENCES workspaces(id),
  kinds        text[] NOT NULL CHECK (kinds <@ ARRAY['fills', 'rejections', 'blocks', 'limit_breaches', 'approvals_waiting']::text[]),
  updated_at   timestamptz(3) NOT NULL DEFAULT now()
);
-- The fills probe on the routing path: does anyone in the workspace want fills?
CREATE INDEX notification_preferences_workspace ON notification_preferences (workspace_id);

-- The outbox: one row per (member, event). event_key makes an event count once per member, whichever trigger saw it.
CREATE TABLE notifications (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  workspace_id uuid NOT NULL,
  member_id    uuid NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('fills', 'rejections', 'blocks', 'limit_breaches', 'approvals_waiting')),
  event_key    text NOT NULL CHECK (length(event_key) <= 300),
  details      jsonb NOT NULL,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'mailed', 'dropped')),
  created_at   timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  mailed_at    timestamptz(3),
  mail_id      uuid,
  UNIQUE (member_id, event_key)
);
CREATE INDEX notifications_pending ON notifications (member_id, seq) WHERE status = 'pending';

-- One per member who was ever mailed or tried: the digest schedule (last_mailed_at) and the retry/lease (next_attempt_at).
CREATE TABLE notification_mailboxes (
  member_id       uuid PRIMARY KEY,
  workspace_id    uuid NOT NULL,
  last_mailed_at  timestamptz(3),
  next_attempt_at timestamptz(3),
  failures        integer NOT NULL DEFAULT 0,
  last_attempt_at timestamptz(3),
  last_error      text CHECK (length(last_error) <= 500)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['notification_preferences', 'notifications', 'notification_mailboxes'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

-- api: each member reads and sets her own preferences. The triggers below run as the role that records the event,
-- which may be either runtime role (audit events are written by both), so both may insert into the outbox.
GRANT SELECT, INSERT, UPDATE ON notification_preferences TO switchyard_api;
GRANT SELECT (member_id, event_key), INSERT ON notifications TO switchyard_api;
-- worker: the triggers' reads, and the mail loop (a member's e-mail, never her password hash).
GRANT SELECT ON notification_preferences TO switchyard_worker;
GRANT SELECT (id, workspace_id, email, removed_at) ON members TO switchyard_worker;
GRANT SELECT, INSERT, UPDATE ON notifications, notification_mailboxes TO switchyard_worker;

-- Records one event for every active member of the workspace who wants its kind (her choice, else the defaults).
CREATE FUNCTION notification_record(p_workspace uuid, p_kind text, p_event_key text, p_details jsonb) RETURNS void
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  -- Fills are off by default and the most frequent event: a workspace where nobody chose them pays one index probe.
  IF p_kind = 'fills' AND NOT EXISTS (SELECT 1 FROM notification_preferences p WHERE p.workspace_id = p_workspace AND 'fills' = ANY (p.kinds)) THEN
    RETURN;
  END IF;
  INSERT INTO notifications (workspace_id, member_id, kind, event_key, details)
  SELECT m.workspace_id, m.id, p_kind, p_event_key, p_details
    FROM members m LEFT JOIN notification_preferences p ON p.member_id = m.id
   WHERE m.workspace_id = p_workspace AND m.removed_at IS NULL AND p_kind = ANY (COALESCE(p.kinds, notification_default_kinds()))
  ON CONFLICT (member_id, event_key) DO NOTHING;
END $$;

-- An order event: a transition to filled / partially_filled / rejected / blocked / awaiting_approval, or an order
-- inserted already blocked (or awaiting approval) by the plan, which writes no transition.
CREATE FUNCTION notification_outbox_order() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  v_order uuid;
  v_status text;
  v_previous text;
  v_kind text;
  v_details jsonb;
BEGIN
  IF TG_TABLE_NAME = 'order_transitions' THEN
    v_order := NEW.order_id; v_status := NEW.to_status; v_previous := NEW.from_status;
  ELSE
    v_order := NEW.id; v_status := NEW.status; v_previous := NULL;
  END IF;
  v_kind := CASE v_status WHEN 'filled' THEN 'fills' WHEN 'partially_filled' THEN 'fills' WHEN 'rejected' THEN 'rejections'
                          WHEN 'blocked' THEN 'blocks' WHEN 'awaiting_approval' THEN 'approvals_waiting' END;
  IF v_kind IS NULL THEN RETURN NULL; END IF;
  SELECT jsonb_build_object(
           'orderId', o.id, 'signalId', o.signal_id, 'connectionId', o.connection_id, 'connectionLabel', c.label,
           'broker', o.broker, 'environment', c.environment, 'symbol', o.symbol, 'side', o.side, 'orderType', o.order_type,
           'quantity', o.quantity::text, 'limitPrice', o.limit_price::text, 'stopPrice', o.stop_price::text,
           'filledQuantity', o.filled_quantity::text, 'averagePrice', o.average_price::text,
           'status', v_status, 'previousStatus', v_previous, 'reason', o.reason,
           -- What the signal asked for: an order blocked at the plan has no side or quantity of its own.
           'signalAction', s.payload->>'action', 'signalPrice', s.payload->>'price',
           'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
    INTO v_details
    FROM orders o LEFT JOIN broker_connections c ON c.id = o.connection_id LEFT JOIN signals s ON s.id = o.signal_id
   WHERE o.id = v_order;
  -- TradingView fires twice on bar close: the duplicate it drops is the filter working, not news.
  IF v_kind = 'blocks' AND coalesce(v_details->>'reason', '') LIKE 'duplicate_signal:%' THEN RETURN NULL; END IF;
  PERFORM notification_record(NEW.workspace_id, v_kind, 'order:' || v_order || ':' || v_status, v_details);
  RETURN NULL;
END $$;
CREATE TRIGGER order_transitions_notifications AFTER INSERT ON order_transitions FOR EACH ROW
  WHEN (NEW.to_status IN ('filled', 'partially_filled', 'rejected', 'blocked', 'awaiting_approval'))
  EXECUTE FUNCTION notification_outbox_order();
CREATE TRIGGER orders_notifications AFTER INSERT ON orders FOR EACH ROW
  WHEN (NEW.status IN ('blocked', 'awaiting_approval'))
  EXECUTE FUNCTION notification_outbox_order();

-- A loss-limit breach, recorded as an audit event by the risk checks. Its metadata is SafeDetails (numbers, ids, flags).
CREATE FUNCTION notification_outbox_audit() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM notification_record(NEW.workspace_id, 'limit_breaches', 'audit:' || NEW.id,
    jsonb_build_object(
      'action', NEW.action, 'connectionId', c.id, 'connectionLabel', c.label, 'broker', c.broker, 'environment', c.environment,
      'reason', NEW.reason, 'metadata', NEW.metadata,
      'at', to_char(NEW.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
    FROM (SELECT 1) one
    -- resource_id is free text: compared as text, so an id that is no uuid cannot fail the audited operation.
    LEFT JOIN broker_connections c ON NEW.resource_type = 'connection' AND c.id::text = NEW.resource_id;
  RETURN NULL;
END $$;
CREATE TRIGGER audit_events_notifications AFTER INSERT ON audit_events FOR EACH ROW
  WHEN (NEW.action = 'connection.loss_limit_breached')
  EXECUTE FUNCTION notification_outbox_audit();

-- The mail loop finds members with mail due across workspaces through this SECURITY DEFINER function only (run as
-- switchyard_resolver, which may read just these columns): pending notifications whose gathering window has passed,
-- whose member was last mailed a digest interval ago or more, and whose retry (or another worker's lease) is due.
CREATE POLICY resolver_scan ON notifications FOR SELECT TO switchyard_resolver USING (true);
CREATE POLICY resolver_scan ON notification_mailboxes FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (workspace_id, member_id, status, created_at) ON notifications TO switchyard_resolver;
GRANT SELECT (member_id, last_mailed_at, next_attempt_at) ON notification_mailboxes TO switchyard_resolver;

CREATE FUNCTION notification_mailboxes_due(p_gather_ms integer, p_digest_ms integer, p_limit integer) RETURNS TABLE (workspace_id uuid, member_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT n.workspace_id, n.member_id
    FROM notifications n LEFT JOIN notification_mailboxes b ON b.member_id = n.member_id
   WHERE n.status = 'pending'
   GROUP BY n.workspace_id, n.member_id, b.last_mailed_at, b.next_attempt_at
  HAVING greatest(min(n.created_at) + p_gather_ms * interval '1 millisecond',
                  coalesce(b.last_mailed_at + p_digest_ms * interval '1 millisecond', '-infinity'),
                  coalesce(b.next_attempt_at, '-infinity')) <= now()
   ORDER BY min(n.created_at)
   LIMIT p_limit
$$;
ALTER FUNCTION notification_mailboxes_due(integer, integer, integer) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION notification_mailboxes_due(integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notification_mailboxes_due(integer, integer, integer) TO switchyard_worker;
