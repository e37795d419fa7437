-- Risk limits (issue 25, first part): how old a signal may be, the window in which a repeat of the same
-- alert is a duplicate, and the trading windows outside which entries are blocked. On the route; the
-- workspace holds the defaults for routes that set none (and, for the signal age, the ceiling).
ALTER TABLE routes ADD COLUMN max_signal_age_seconds integer CHECK (max_signal_age_seconds BETWEEN 1 AND 86400);
ALTER TABLE routes ADD COLUMN duplicate_window_seconds integer CHECK (duplicate_window_seconds BETWEEN 1 AND 86400);
ALTER TABLE routes ADD COLUMN trading_windows jsonb CHECK (trading_windows IS NULL OR jsonb_typeof(trading_windows) = 'array');
ALTER TABLE routes ADD COLUMN block_exits_outside_windows boolean NOT NULL DEFAULT false;

ALTER TABLE workspaces ADD COLUMN max_signal_age_seconds integer CHECK (max_signal_age_seconds BETWEEN 1 AND 86400);
ALTER TABLE workspaces ADD COLUMN duplicate_window_seconds integer CHECK (duplicate_window_seconds BETWEEN 1 AND 86400);
