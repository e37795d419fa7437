-- Until now a Binance or Coinbase connection created as "paper" traded on the exchange itself, and the
-- live-trading gate did not hold it. Paper at Binance is now the Spot Testnet and Coinbase has no paper:
-- the existing ones hold exchange keys, so they are what they always were, live (routed only once the
-- owner enables live trading).
ALTER TABLE broker_connections NO FORCE ROW LEVEL SECURITY;
UPDATE broker_connections SET environment = 'live' WHERE broker IN ('binance', 'coinbase') AND environment = 'paper';
ALTER TABLE broker_connections FORCE ROW LEVEL SECURITY;
