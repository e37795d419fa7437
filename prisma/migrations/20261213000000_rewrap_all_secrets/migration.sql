-- `cli keys rewrap` re-wraps every sealed secret, not only broker credentials: it lists the workspaces holding
-- credential versions, source secrets or order-webhook secrets through this lookup (run as switchyard_resolver,
-- which may read only their workspace_id), then works inside each workspace.
CREATE POLICY resolver_scan ON webhook_endpoint_secrets FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (workspace_id) ON webhook_endpoint_secrets TO switchyard_resolver;
GRANT SELECT (workspace_id) ON source_secrets TO switchyard_resolver;

CREATE FUNCTION sealed_secret_workspaces() RETURNS TABLE (workspace_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT v.workspace_id FROM credential_versions v
  UNION SELECT s.workspace_id FROM source_secrets s
  UNION SELECT e.workspace_id FROM webhook_endpoint_secrets e
$$;
ALTER FUNCTION sealed_secret_workspaces() OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION sealed_secret_workspaces() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sealed_secret_workspaces() TO switchyard_owner;

DROP FUNCTION credential_workspaces();
