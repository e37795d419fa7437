-- Broker event streams: a worker keeps one stream per connection that has working orders. It finds those
-- connections across workspaces through this SECURITY DEFINER function only (run as switchyard_resolver, which
-- may read just the columns it names), then opens each stream inside the connection's workspace.
GRANT SELECT (connection_id, created_at) ON orders TO switchyard_resolver;
GRANT SELECT (status) ON broker_connections TO switchyard_resolver;

-- One row per active connection with a working order of a streaming broker, the connection whose oldest working
-- order is oldest first: a worker at its bound keeps the streams it has instead of trading them for newer ones.
CREATE FUNCTION order_stream_connections(p_brokers text[], p_limit integer) RETURNS TABLE (workspace_id uuid, connection_id uuid, broker text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT o.workspace_id, o.connection_id, min(o.broker) FROM orders o
    JOIN broker_connections c ON c.id = o.connection_id AND c.status = 'active'
   WHERE o.status IN ('accepted', 'partially_filled') AND o.intent <> 'cancel' AND o.broker = ANY(p_brokers)
   GROUP BY o.workspace_id, o.connection_id
   ORDER BY min(o.created_at), o.connection_id
   LIMIT p_limit
$$;
ALTER FUNCTION order_stream_connections(text[], integer) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION order_stream_connections(text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION order_stream_connections(text[], integer) TO switchyard_worker;

-- A revoke tells every worker at commit, so each closes that connection's stream at once (a worker that misses
-- the notice, e.g. behind PgBouncer, still closes it at its next refresh).
CREATE FUNCTION broker_connection_revoked_notify() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  PERFORM pg_notify('switchyard_connection_revoked', NEW.id::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER broker_connection_revoked_notify AFTER UPDATE OF status ON broker_connections
  FOR EACH ROW WHEN (NEW.status <> 'active' AND OLD.status = 'active') EXECUTE FUNCTION broker_connection_revoked_notify();
