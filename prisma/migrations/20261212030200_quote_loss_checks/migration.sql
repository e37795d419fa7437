-- Quote-triggered loss checks (issue 25): a fresh price (a paper quote, or a signal's price on a paper connection) can
-- breach a connection's daily loss limit or maximum drawdown with no new fill or signal. The worker looks at each
-- loss-limited connection whose latest quote is newer than the one it last looked at.
ALTER TABLE connection_risk ADD COLUMN quotes_checked_at timestamptz(6);
GRANT UPDATE (quotes_checked_at) ON connection_risk TO switchyard_worker;

CREATE POLICY resolver_scan ON connection_risk FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (workspace_id, connection_id, daily_loss_limit, max_drawdown, quotes_checked_at) ON connection_risk TO switchyard_resolver;
CREATE POLICY resolver_scan ON paper_quotes FOR SELECT TO switchyard_resolver USING (true);
GRANT SELECT (connection_id, quoted_at) ON paper_quotes TO switchyard_resolver;

CREATE FUNCTION loss_quotes_due(p_limit integer) RETURNS TABLE (workspace_id uuid, connection_id uuid, quoted_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  SELECT k.workspace_id, k.connection_id, q.latest FROM connection_risk k
   CROSS JOIN LATERAL (SELECT max(p.quoted_at) AS latest FROM paper_quotes p WHERE p.connection_id = k.connection_id) q
   WHERE (k.daily_loss_limit IS NOT NULL OR k.max_drawdown IS NOT NULL)
     AND q.latest > coalesce(k.quotes_checked_at, '-infinity')
   ORDER BY q.latest
   LIMIT p_limit
$$;
ALTER FUNCTION loss_quotes_due(integer) OWNER TO switchyard_resolver;
REVOKE ALL ON FUNCTION loss_quotes_due(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loss_quotes_due(integer) TO switchyard_worker;
