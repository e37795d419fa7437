import type { BrokerName } from '../../src/brokers/broker-adapter';
import { planOrders, RoutableSignal, RouteRules } from '../../src/routing/order-plan';
import { planRoute, planSignal } from '../unit/support/plan-fixtures';

const route = planRoute;
const signal = (over: Partial<RoutableSignal>) => planSignal({ price: '187.4', ...over });
const plan = (s: Partial<RoutableSignal>, r: Partial<RouteRules> = {}, broker: BrokerName = 'alpaca') =>
  planOrders(signal(s), route(r), broker).map((p) => (p.ok ? { symbol: p.plan.symbol, quantity: p.plan.quantity, intent: p.plan.intent } : p.reason));
const otm2 = { optionType: 'call', expiration: '+30d', strike: { strikesAway: 2, intrinsicValue: 'otm' } } as const;

describe('planOrders: options (src/routing/order-plan.ts)', () => {
  it('keeps an OCC ticker as the contract (exchange prefix dropped) and a selection rule as a symbol the adapter resolves', () => {
    expect(plan({ ticker: 'OPRA:aapl261218c00150000' })).toEqual([{ symbol: 'AAPL261218C00150000', quantity: '2', intent: 'entry' }]);
    expect(plan({ ticker: 'OPRA:AAPL261218C150.0' })).toEqual([{ symbol: 'AAPL261218C00150000', quantity: '2', intent: 'entry' }]);
    expect(plan({ ticker: 'NASDAQ:AAPL', option: otm2 })).toEqual([{ symbol: 'option:AAPL:call:+30d:otm2@187.4', quantity: '2', intent: 'entry' }]);
    expect(plan({ option: { optionType: 'put', expiration: '2027-01-15', strike: { price: '150' } } })).toEqual([
      { symbol: 'option:AAPL:put:2027-01-15:150', quantity: '2', intent: 'entry' },
    ]);
    expect(plan({ ticker: 'AAPL261218C00150000', action: 'exit' })).toEqual([{ symbol: 'AAPL261218C00150000', quantity: undefined, intent: 'exit' }]);
  });

  it('sizes options in whole contracts, never up', () => {
    expect(plan({ option: otm2, quantity: '3' }, { sizingMode: 'multiplier', sizingValue: '0.5' })).toEqual([expect.objectContaining({ quantity: '1' })]);
    expect(plan({ option: otm2, quantity: '1' }, { sizingMode: 'multiplier', sizingValue: '0.5' })).toEqual([
      'quantity_zero: sizing produced less than one contract',
    ]);
    expect(plan({ option: otm2 }, { sizingMode: 'notional', sizingValue: '1000' })).toEqual([expect.stringMatching(/^option_sizing: /)]);
    expect(plan({ ticker: 'AAPL261218C00150000' }, { sizingMode: 'percent_equity', sizingValue: '5' })).toEqual([expect.stringMatching(/^option_sizing: /)]);
    // Equities keep fractional sizing.
    expect(plan({ quantity: '3' }, { sizingMode: 'multiplier', sizingValue: '0.5' })).toEqual([expect.objectContaining({ quantity: '1.5' })]);
  });

  it('blocks options at a broker that takes none, and checks allowed symbols against the underlying of a rule', () => {
    expect(plan({ option: otm2 }, {}, 'paper')).toEqual(['options_unsupported: paper takes no option orders through Switchyard']);
    expect(plan({ ticker: 'AAPL261218C00150000' }, {}, 'oanda')).toEqual([expect.stringMatching(/^symbol_unmapped: /)]);
    expect(plan({ option: otm2 }, { allowedSymbols: ['AAPL'] })).toEqual([expect.objectContaining({ symbol: 'option:AAPL:call:+30d:otm2@187.4' })]);
    expect(plan({ option: otm2 }, { allowedSymbols: ['MSFT'] })).toEqual([expect.stringMatching(/^symbol_not_allowed: /)]);
  });
});
