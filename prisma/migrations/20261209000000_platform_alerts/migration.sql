-- Security alerts are the platform's (issue 19, finding 2): the platform on-call lists alerts across workspaces
-- and acknowledges or resolves them. These SECURITY DEFINER functions are its only cross-tenant reads; they run as
-- switchyard_resolver, which may SELECT only the alert columns they return (never tenant tables beyond alerts).
CREATE POLICY resolver_scan ON alerts FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (id, workspace_id, rule, resource_type, resource_id, severity, summary, details, status, occurrences,
              first_raised_at, last_raised_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by)
  ON alerts TO switchyard_resolver;

-- Newest first across workspaces, as the platform list pages.
CREATE INDEX alerts_platform_recent ON alerts (first_raised_at DESC, id DESC);

-- A page of alerts of every workspace, newest first, strictly after (p_after_at, p_after_id) when given.
-- p_owner: 'workspace' keeps the rules in p_workspace_rules, 'platform' every other rule, NULL both.
CREATE FUNCTION platform_alerts(p_status text, p_owner text, p_workspace_rules text[],
                                p_after_at timestamptz, p_after_id uuid, p_limit integer)
  RETURNS TABLE (id uuid, workspace_id uuid, rule text, resource_type text, resource_id text, severity text,
                 summary text, details jsonb, status text, occurrences integer, first_raised_at timestamptz,
                 last_raised_at timestamptz, acknowledged_at timestamptz, acknowledged_by text,
                 resolved_at timestamptz, resolved_by text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT a.id, a.workspace_id, a.rule, a.resource_type, a.resource_id, a.severity, a.summary, a.details, a.status,
         a.occurrences, a.first_raised_at, a.last_raised_at, a.acknowledged_at, a.acknowledged_by, a.resolved_at,
         a.resolved_by
    FROM alerts a
   WHERE (p_status IS NULL OR a.status = p_status)
     AND (p_owner IS NULL OR (p_owner = 'workspace') = (a.rule = ANY(p_workspace_rules)))
     AND (p_after_at IS NULL OR (a.first_raised_at, a.id) < (p_after_at, p_after_id))
   ORDER BY a.first_raised_at DESC, a.id DESC
   LIMIT p_limit
$$;

-- The workspace an alert belongs to, so the platform can act on it inside that workspace's transaction (RLS).
CREATE FUNCTION alert_workspace(p_id uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT a.workspace_id FROM alerts a WHERE a.id = p_id $$;

ALTER FUNCTION platform_alerts(text, text, text[], timestamptz, uuid, integer) OWNER TO switchyard_resolver;
ALTER FUNCTION alert_workspace(uuid) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION platform_alerts(text, text, text[], timestamptz, uuid, integer), alert_workspace(uuid) FROM PUBLIC;
-- Only the api serves the platform's routes.
GRANT EXECUTE ON FUNCTION platform_alerts(text, text, text[], timestamptz, uuid, integer), alert_workspace(uuid) TO switchyard_api;
