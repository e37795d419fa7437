import type { BrokerName } from '../../src/brokers/broker-adapter';
import { planOrders, RoutableSignal, RouteRules } from '../../src/routing/order-plan';
import { planRoute, planSignal } from './support/plan-fixtures';

const route = planRoute;
const signal = (over: Partial<RoutableSignal>) => planSignal({ price: '100', ...over });
/** The legs as (intent, side, rule, quantity), or the reason when blocked. */
const legs = (s: Partial<RoutableSignal>, r: Partial<RouteRules> = {}) =>
  planOrders(signal(s), route(r), 'paper').map((p) =>
    p.ok ? [p.plan.intent, p.plan.side ?? null, p.plan.positionRule ?? null, p.plan.quantity ?? null] : p.reason,
  );

describe('planOrders: tickers as TradingView sends them', () => {
  const symbolOf = (ticker: string, broker: BrokerName, symbolMap: Record<string, string> = {}) => {
    const [p] = planOrders(signal({ ticker }), route({ symbolMap }), broker);
    return p.ok ? p.plan.symbol : p.reason;
  };

  it.each([
    ['NASDAQ:AMD', 'alpaca', 'AMD'],
    ['nyse:brk.b', 'alpaca', 'BRK.B'],
    ['BTC/USD', 'alpaca', 'BTC/USD'],
    ['BINANCE:BTCUSDT', 'binance', 'BTCUSDT'],
    ['COINBASE:BTCUSD', 'coinbase', 'BTC-USD'],
    ['OANDA:EURUSD', 'oanda', 'EUR_USD'],
    ['FX:GBPJPY', 'oanda', 'GBP_JPY'],
    ['OANDA:XAU_USD', 'oanda', 'XAU_USD'],
    ['NASDAQ:AAPL', 'paper', 'AAPL'],
    ['CME_MINI:ES1!', 'tradovate', 'ES1!'],
    ['nq2!', 'tradovate', 'NQ2!'],
    ['CME_MINI:ESZ6', 'tradovate', 'ESZ6'],
    ['MNQH27', 'tradovate', 'MNQH27'],
  ] as const)('%s at %s is %s', (ticker, broker, symbol) => {
    expect(symbolOf(ticker, broker)).toBe(symbol);
  });

  it('resolves continuous futures through the symbol map only, with or without the exchange prefix', () => {
    expect(symbolOf('ES1!', 'oanda', { 'ES1!': 'SPX500_USD' })).toBe('SPX500_USD');
    expect(symbolOf('CME_MINI:ES1!', 'oanda', { 'ES1!': 'SPX500_USD' })).toBe('SPX500_USD');
    expect(symbolOf('CME_MINI:NQ1!', 'alpaca', { 'CME_MINI:NQ1!': 'QQQ' })).toBe('QQQ');
    expect(symbolOf('ES1!', 'alpaca')).toBe(
      "symbol_unmapped: ES1! is TradingView's continuous futures notation and alpaca trades no futures; map it to an instrument in the route's symbolMap",
    );
  });

  it('prefers the map entry for the ticker as sent over the bare one, and reads own keys only', () => {
    expect(symbolOf('NASDAQ:AMD', 'alpaca', { 'NASDAQ:AMD': 'AMD.X', AMD: 'AMD.Y' })).toBe('AMD.X');
    expect(symbolOf('NASDAQ:AMD', 'alpaca', { AMD: 'AMD.Y' })).toBe('AMD.Y');
    expect(symbolOf('constructor', 'paper')).toBe('constructor');
    expect(symbolOf('EURUSD.X', 'oanda')).toBe("symbol_unmapped: oanda has no symbol like EURUSD.X; map it to one in the route's symbolMap");
    expect(symbolOf('NASDAQ:AAPL', 'tradovate')).toBe("symbol_unmapped: tradovate has no symbol like NASDAQ:AAPL; map it to one in the route's symbolMap");
  });
});

describe('planOrders: what an action and a sentiment mean for one route', () => {
  it('keeps a plain buy or sell an entry as sent (no position read)', () => {
    expect(legs({ action: 'buy' })).toEqual([['entry', 'buy', null, '2']]);
    expect(legs({ action: 'sell' })).toEqual([['entry', 'sell', null, '2']]);
  });

  it('makes buy/sell with sentiment flat an exit of the opposite position only, never an entry', () => {
    expect(legs({ action: 'sell', sentiment: 'flat' })).toEqual([['exit', 'sell', null, null]]);
    expect(legs({ action: 'buy', sentiment: 'flat' })).toEqual([['exit', 'buy', null, null]]);
  });

  it('plans a reversal as two legs: close the opposite position (skipped if none), then open', () => {
    expect(legs({ action: 'sell', sentiment: 'short' })).toEqual([
      ['exit', 'sell', 'if_any', null],
      ['entry', 'sell', null, '2'],
    ]);
    expect(legs({ action: 'buy', sentiment: 'long' })).toEqual([
      ['exit', 'buy', 'if_any', null],
      ['entry', 'buy', null, '2'],
    ]);
  });

  it('reads sell while staying long as a partial close capped by the sized quantity', () => {
    expect(legs({ action: 'sell', sentiment: 'long' })).toEqual([['exit', 'sell', 'reduce', '2']]);
    expect(legs({ action: 'buy', sentiment: 'short' })).toEqual([['exit', 'buy', 'reduce', '2']]);
  });

  it('plans exit as a close of whatever is open, and add as an entry that needs an open position', () => {
    expect(legs({ action: 'exit' })).toEqual([['exit', null, null, null]]);
    expect(legs({ action: 'add' })).toEqual([['entry', null, 'if_open', '2']]);
    expect(legs({ action: 'add', sentiment: 'short' })).toEqual([['entry', 'sell', 'if_open', '2']]);
  });

  it('on a long-only route turns sells into closes of the long and never opens a short', () => {
    const longOnly = { positionMode: 'long_only' as const };
    expect(legs({ action: 'sell' }, longOnly)).toEqual([['exit', 'sell', null, null]]);
    expect(legs({ action: 'sell', sentiment: 'short' }, longOnly)).toEqual([['exit', 'sell', null, null]]);
    expect(legs({ action: 'buy', sentiment: 'long' }, longOnly)).toEqual([
      ['exit', 'buy', 'if_any', null],
      ['entry', 'buy', null, '2'],
    ]);
    expect(legs({ action: 'add' }, longOnly)).toEqual([['entry', 'buy', 'if_open', '2']]);
    expect(legs({ action: 'add', sentiment: 'short' }, longOnly)).toEqual(['position_mode: this route is long-only; it opens and adds to long positions only']);
  });

  it('on a short-only route turns buys into closes of the short', () => {
    expect(legs({ action: 'buy' }, { positionMode: 'short_only' })).toEqual([['exit', 'buy', null, null]]);
    expect(legs({ action: 'sell' }, { positionMode: 'short_only' })).toEqual([['entry', 'sell', null, '2']]);
  });

  it('marks entries "unless open" when the route ignores entries in an open direction (add still adds)', () => {
    const ignore = { entryWhenOpen: 'ignore' as const };
    expect(legs({ action: 'buy' }, ignore)).toEqual([['entry', 'buy', 'unless_open', '2']]);
    expect(legs({ action: 'sell', sentiment: 'short' }, ignore)).toEqual([
      ['exit', 'sell', 'if_any', null],
      ['entry', 'sell', 'unless_open', '2'],
    ]);
    expect(legs({ action: 'add', sentiment: 'long' }, ignore)).toEqual([['entry', 'buy', 'if_open', '2']]);
  });

  it('blocks with the sizing reason, whatever the sentiment', () => {
    expect(legs({ action: 'sell', sentiment: 'long', quantity: undefined }, { sizingMode: 'multiplier' })).toEqual([
      'quantity_required: multiplier sizing needs the signal quantity',
    ]);
  });
});
