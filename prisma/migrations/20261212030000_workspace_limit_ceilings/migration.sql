-- Workspace defaults and ceilings (issue 25): the workspace sets the same limits as a route's `limits`. A route that
-- sets none takes the workspace's; a route may only be stricter (the api refuses a looser value, and planning uses
-- the stricter of the two). Trading windows apply both: a route's windows narrow the workspace's, never widen them.
ALTER TABLE workspaces ADD COLUMN max_quantity numeric CHECK (max_quantity > 0);
ALTER TABLE workspaces ADD COLUMN max_notional numeric CHECK (max_notional > 0);
ALTER TABLE workspaces ADD COLUMN max_orders_per_minute integer CHECK (max_orders_per_minute BETWEEN 1 AND 10000);
ALTER TABLE workspaces ADD COLUMN trading_windows jsonb CHECK (trading_windows IS NULL OR jsonb_typeof(trading_windows) = 'array');
ALTER TABLE workspaces ADD COLUMN block_exits_outside_windows boolean NOT NULL DEFAULT false;
ALTER TABLE workspaces ADD COLUMN max_position numeric CHECK (max_position > 0);
ALTER TABLE workspaces ADD COLUMN max_open_positions integer CHECK (max_open_positions BETWEEN 1 AND 10000);
