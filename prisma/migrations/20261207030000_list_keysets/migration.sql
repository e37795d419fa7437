-- Every list pages by keyset, newest first: WHERE (time, id) < cursor ORDER BY time DESC, id DESC.
-- Each list gets (workspace_id, time DESC, id DESC) so a page is one index seek at any depth; the
-- indexes these replace covered a prefix of them. Alerts (alerts_recent), signals (signals_recent) and
-- the audit chain (audit_events_chain) had theirs already.

CREATE INDEX members_recent ON members (workspace_id, created_at DESC, id DESC) WHERE removed_at IS NULL;

DROP INDEX api_tokens_workspace;
CREATE INDEX api_tokens_recent ON api_tokens (workspace_id, created_at DESC, id DESC);

DROP INDEX broker_connections_workspace;
CREATE INDEX broker_connections_recent ON broker_connections (workspace_id, created_at DESC, id DESC);

DROP INDEX sources_workspace;
CREATE INDEX sources_recent ON sources (workspace_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE INDEX routes_recent ON routes (workspace_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

DROP INDEX orders_workspace_created;
CREATE INDEX orders_recent ON orders (workspace_id, created_at DESC, id DESC);

-- GET /v1/signals?sourceId=…
DROP INDEX signals_source;
CREATE INDEX signals_source ON signals (workspace_id, source_id, received_at DESC, id DESC);
