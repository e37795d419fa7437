import type { RoutableSignal, RouteRules } from '../../../src/routing/order-plan';

/** A route with no limits: fixed size 2 on connection c1, both directions, entries add. */
export const planRoute = (over: Partial<RouteRules> = {}): RouteRules => ({
  id: 'r1',
  connectionId: 'c1',
  sizingMode: 'fixed',
  sizingValue: '2',
  symbolMap: {},
  allowedSymbols: null,
  maxQuantity: null,
  maxNotional: null,
  maxOrdersPerMinute: null,
  positionMode: 'both',
  entryWhenOpen: 'add',
  ...over,
});

/** A market buy of AAPL, without a price unless given. */
export const planSignal = (over: Partial<RoutableSignal> = {}): RoutableSignal => ({
  id: 's1',
  seq: '1',
  ticker: 'AAPL',
  action: 'buy',
  orderType: 'market',
  ...over,
});
