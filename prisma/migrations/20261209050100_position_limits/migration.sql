-- Position limits (issue 25): the largest position a route may build per symbol on its connection, and how
-- many symbols may be open there at once. Planning reads the connection's book by symbol, hence the index.
ALTER TABLE routes ADD COLUMN max_position numeric CHECK (max_position > 0);
ALTER TABLE routes ADD COLUMN max_open_positions integer CHECK (max_open_positions BETWEEN 1 AND 10000);
CREATE INDEX orders_connection_symbol ON orders (connection_id, symbol);
CREATE INDEX flatten_orders_connection ON flatten_orders (connection_id, symbol);
