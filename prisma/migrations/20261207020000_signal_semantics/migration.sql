-- Signal semantics: a signal may plan several orders per route (legs: a reversal closes, then opens),
-- an order may depend on the position the worker reads at the broker, and a route says which
-- directions it trades and what an entry does while a position in its direction is open.

ALTER TABLE orders ADD COLUMN leg smallint NOT NULL DEFAULT 0 CHECK (leg BETWEEN 0 AND 1);
ALTER TABLE orders ADD COLUMN position_rule text CHECK (position_rule IN ('if_any', 'reduce', 'unless_open', 'if_open'));
ALTER TABLE orders DROP CONSTRAINT orders_signal_id_route_id_key;
ALTER TABLE orders ADD CONSTRAINT orders_signal_route_leg UNIQUE (signal_id, route_id, leg);
-- 'skipped': a leg with nothing to do (a reversal's close when no opposite position is open).
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
  CHECK (status IN ('pending', 'submitted', 'accepted', 'filled', 'rejected', 'failed', 'blocked', 'skipped'));

ALTER TABLE routes ADD COLUMN position_mode text NOT NULL DEFAULT 'both' CHECK (position_mode IN ('both', 'long_only', 'short_only'));
ALTER TABLE routes ADD COLUMN entry_when_open text NOT NULL DEFAULT 'add' CHECK (entry_when_open IN ('add', 'ignore'));
