-- `cli credentials reveal --connection <id>` names only the connection: this resolver lookup finds its
-- workspace so the command can open that workspace's scope (as switchyard_owner, FORCE RLS applies).
CREATE POLICY resolver_lookup ON broker_connections FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (id, workspace_id) ON broker_connections TO switchyard_resolver;

CREATE FUNCTION connection_workspace(p_connection_id uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT c.workspace_id FROM broker_connections c WHERE c.id = p_connection_id $$;

ALTER FUNCTION connection_workspace(uuid) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION connection_workspace(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION connection_workspace(uuid) TO switchyard_owner;
