-- Interactive Brokers (gateway mode) joins the brokers a connection may name.
ALTER TABLE broker_connections DROP CONSTRAINT broker_connections_broker_check;
ALTER TABLE broker_connections ADD CONSTRAINT broker_connections_broker_check
  CHECK (broker IN ('paper', 'alpaca', 'binance', 'coinbase', 'oanda', 'tradovate', 'ibkr'));
