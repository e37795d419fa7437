import type { BrokerName } from './broker-adapter';
import { binanceSymbol } from './binance/binance-orders';
import { ibkrSymbolName } from './ibkr/ibkr-contracts';
import { productId } from './coinbase/coinbase-orders';
import { oandaInstrumentName } from './oanda/oanda-orders';
import { contractOfTicker, formatOccSymbol } from './option-symbols';
import { tradovateSymbolName } from './tradovate/tradovate-contracts';

/** TradingView's exchange prefix (`NASDAQ:AAPL`, `BINANCE:BTCUSDT`, `OANDA:EURUSD`, `CME_MINI:ES1!`). */
const EXCHANGE_PREFIX = /^[A-Za-z0-9_]{1,20}:/;
/** TradingView's continuous futures notation: root, then the contract's place in the chain (`ES1!`, `CL2!`). */
const CONTINUOUS_FUTURE = /^[A-Za-z0-9]{1,10}\d!$/;
/** Alpaca equities (`BRK.B`) and crypto pairs (`BTC/USD`). */
const ALPACA_SYMBOL = /^[A-Z][A-Z0-9.]{0,9}$|^[A-Z0-9]{2,10}\/[A-Z]{3,4}$/;

/** The ticker without its exchange prefix. */
export function withoutExchange(ticker: string): string {
  return ticker.replace(EXCHANGE_PREFIX, '');
}

export function isContinuousFuture(ticker: string): boolean {
  return CONTINUOUS_FUTURE.test(withoutExchange(ticker));
}

/**
 * The broker's own name for a ticker as TradingView sends it (exchange prefix dropped, the broker's
 * spelling: `OANDA:EURUSD` → `EUR_USD`, `COINBASE:BTCUSD` → `BTC-USD`, `NASDAQ:AAPL` → `AAPL`);
 * undefined when the broker can have no such instrument. Tradovate and IBKR trade futures: they keep `ES1!` as is
 * (the adapter resolves it to the front month when it sends the order).
 */
export function brokerSymbol(broker: BrokerName, ticker: string): string | undefined {
  const bare = withoutExchange(ticker.trim());
  if (broker === 'tradovate') return tradovateSymbolName(bare);
  if (broker === 'ibkr') return ibkrSymbolName(bare);
  if (isContinuousFuture(ticker)) return undefined;
  switch (broker) {
    case 'alpaca': {
      const upper = bare.toUpperCase();
      // Option contracts by OCC symbol, or as TradingView spells them (`OPRA:AAPL261218C150.0`).
      const contract = contractOfTicker(ticker);
      if (contract) return formatOccSymbol(contract);
      return ALPACA_SYMBOL.test(upper) ? upper : undefined;
    }
    case 'binance':
      return binanceSymbol(bare);
    case 'coinbase':
      return productId(bare);
    case 'oanda':
      return oandaInstrumentName(bare);
    case 'paper':
      return bare;
  }
}
