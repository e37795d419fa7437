-- flattenAtEnd on a trading window (issue 25): at the window's end the worker flattens the route's positions on its
-- connection, once per end. A route-scoped flatten closes only the symbols the route traded (flatten_connections.symbols).
ALTER TABLE flattens DROP CONSTRAINT flattens_scope_check;
ALTER TABLE flattens ADD CONSTRAINT flattens_scope_check CHECK (scope IN ('connection', 'workspace', 'route'));
-- null: every symbol of the connection.
ALTER TABLE flatten_connections ADD COLUMN symbols text[];

-- One row per route and window end: the claim that makes the flatten happen once, whichever worker looks first.
CREATE TABLE window_flattens (
  workspace_id uuid NOT NULL REFERENCES workspaces (id),
  route_id     uuid NOT NULL REFERENCES routes (id),
  window_end   timestamptz(3) NOT NULL,
  flatten_id   uuid,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (route_id, window_end)
);
ALTER TABLE window_flattens ENABLE ROW LEVEL SECURITY;
ALTER TABLE window_flattens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON window_flattens USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace());
GRANT SELECT, INSERT ON window_flattens TO switchyard_worker;
GRANT SELECT ON window_flattens TO switchyard_api;

-- The worker finds, across workspaces, the routes with a window that flattens at its end (its own or its workspace's),
-- through this SECURITY DEFINER scan only (run as the resolver, which reads just these columns).
CREATE POLICY resolver_scan ON routes FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (id, workspace_id, connection_id, trading_windows, enabled, deleted_at) ON routes TO switchyard_resolver;
CREATE POLICY resolver_scan ON workspaces FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (id, trading_windows) ON workspaces TO switchyard_resolver;

CREATE FUNCTION window_flatten_routes() RETURNS TABLE (workspace_id uuid, route_id uuid, connection_id uuid, route_windows jsonb, workspace_windows jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT r.workspace_id, r.id, r.connection_id, r.trading_windows, w.trading_windows
    FROM routes r JOIN workspaces w ON w.id = r.workspace_id
   WHERE r.enabled AND r.deleted_at IS NULL
     AND (r.trading_windows @> '[{"flattenAtEnd": true}]' OR w.trading_windows @> '[{"flattenAtEnd": true}]')
$$;
ALTER FUNCTION window_flatten_routes() OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION window_flatten_routes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION window_flatten_routes() TO switchyard_worker;
