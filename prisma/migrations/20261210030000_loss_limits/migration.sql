-- Per-connection risk (issue 25): the connection's own kill switch, and its daily loss / drawdown limits with the
-- action on breach and the session boundary they reset at. A table of its own (not broker_connections columns) so
-- the api may write these settings without any write on the credential's row, and the worker may engage the
-- switch (a `flatten` breach) without one either.
CREATE TABLE connection_risk (
  connection_id            uuid PRIMARY KEY,
  workspace_id             uuid NOT NULL,
  kill_switch_engaged      boolean NOT NULL DEFAULT false,
  kill_switch_reason       text CHECK (length(kill_switch_reason) <= 500),
  kill_switch_by           text CHECK (length(kill_switch_by) <= 200),
  kill_switch_changed_at   timestamptz(3),
  daily_loss_limit         numeric CHECK (daily_loss_limit > 0),
  max_drawdown             numeric CHECK (max_drawdown > 0),
  loss_action              text NOT NULL DEFAULT 'block' CHECK (loss_action IN ('block', 'flatten')),
  session_start            text NOT NULL DEFAULT '00:00' CHECK (session_start ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  session_timezone         text NOT NULL DEFAULT 'UTC' CHECK (length(session_timezone) BETWEEN 1 AND 64),
  updated_at               timestamptz(3) NOT NULL DEFAULT now(),
  FOREIGN KEY (connection_id, workspace_id) REFERENCES broker_connections (id, workspace_id)
);

-- One row per connection and trading session: the session P&L's high-water mark (for the drawdown) and the
-- breach, if any. Recording the breach is a conditional UPDATE of this row (breached_at IS NULL), so two
-- concurrent breaches act once; the breach blocks entries until session_end.
CREATE TABLE connection_loss_sessions (
  workspace_id    uuid NOT NULL,
  connection_id   uuid NOT NULL,
  session_start   timestamptz(3) NOT NULL,
  session_end     timestamptz(3) NOT NULL CHECK (session_end > session_start),
  peak_pnl        numeric NOT NULL DEFAULT 0,
  last_pnl        numeric NOT NULL DEFAULT 0,
  breached_at     timestamptz(3),
  breach_limit    text CHECK (breach_limit IN ('dailyLossLimit', 'maxDrawdown')),
  breach_reason   text CHECK (length(breach_reason) <= 1000),
  flatten_id      uuid,
  updated_at      timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, session_start),
  FOREIGN KEY (connection_id, workspace_id) REFERENCES broker_connections (id, workspace_id)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['connection_risk', 'connection_loss_sessions'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (workspace_id = app_current_workspace()) WITH CHECK (workspace_id = app_current_workspace())', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT ON connection_risk TO switchyard_api;
GRANT UPDATE (kill_switch_engaged, kill_switch_reason, kill_switch_by, kill_switch_changed_at, daily_loss_limit, max_drawdown,
              loss_action, session_start, session_timezone, updated_at) ON connection_risk TO switchyard_api;
GRANT SELECT ON connection_risk TO switchyard_worker;
GRANT UPDATE (kill_switch_engaged, kill_switch_reason, kill_switch_by, kill_switch_changed_at, updated_at) ON connection_risk TO switchyard_worker;

GRANT SELECT ON connection_loss_sessions TO switchyard_api;
GRANT SELECT, INSERT ON connection_loss_sessions TO switchyard_worker;
GRANT UPDATE (peak_pnl, last_pnl, breached_at, breach_limit, breach_reason, flatten_id, updated_at) ON connection_loss_sessions TO switchyard_worker;

-- A `flatten` breach records its flatten in the worker, in the breach's own transaction.
GRANT INSERT ON flattens, flatten_connections TO switchyard_worker;
