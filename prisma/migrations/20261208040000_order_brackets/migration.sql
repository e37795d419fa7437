-- Bracket legs beyond a stop price: the limit of a stop-limit stop-loss, and a trailing stop's trail
-- (a percent or a price amount). Take-profit and stop prices stay absolute: routing resolves percent and
-- amount distances from the entry's reference price before the order row is written.
ALTER TABLE orders ADD COLUMN stop_loss_limit numeric;
ALTER TABLE orders ADD COLUMN trail_percent numeric;
ALTER TABLE orders ADD COLUMN trail_amount numeric;
