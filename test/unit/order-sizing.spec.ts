import { OrderPlan, planOrders, RoutableSignal, RouteRules, sizeFromEquity } from '../../src/routing/order-plan';
import { planRoute, planSignal } from './support/plan-fixtures';

const route = planRoute;
const signal = planSignal;

/** The one entry leg's quantity, or the reason it is blocked. */
const sized = (r: Partial<RouteRules>, s: Partial<RoutableSignal> = {}): string | undefined => {
  const [leg] = planOrders(signal(s), route(r), 'paper');
  return leg.ok ? leg.plan.quantity : leg.reason;
};

describe('sizing at planning (planOrders)', () => {
  it('fixed: the route value, whatever the signal says', () => {
    expect(sized({ sizingMode: 'fixed', sizingValue: '3' }, { quantity: '100' })).toBe('3');
  });

  it('multiplier: the signal quantity times the value, and needs the quantity', () => {
    expect(sized({ sizingMode: 'multiplier', sizingValue: '0.5' }, { quantity: '7' })).toBe('3.5');
    expect(sized({ sizingMode: 'multiplier', sizingValue: '0.5' })).toBe('quantity_required: multiplier sizing needs the signal quantity');
  });

  it('notional: the value divided by the price (signal price, else limit price), rounded down to 8 places', () => {
    expect(sized({ sizingMode: 'notional', sizingValue: '1000' }, { price: '3' })).toBe('333.33333333');
    expect(sized({ sizingMode: 'notional', sizingValue: '1000' }, { orderType: 'limit', limitPrice: '250' })).toBe('4');
    expect(sized({ sizingMode: 'notional', sizingValue: '1000' })).toBe('price_required: notional sizing needs the signal price');
  });

  it('blocks a quantity that rounds to nothing', () => {
    expect(sized({ sizingMode: 'notional', sizingValue: '0.000000001' }, { price: '1' })).toBe('quantity_zero: sizing produced no quantity');
  });

  it('holds the sized quantity to maxQuantity and maxNotional', () => {
    expect(sized({ sizingValue: '11', maxQuantity: '10' })).toBe("max_quantity_exceeded: 11 is above the route's limit of 10");
    expect(sized({ sizingValue: '10', maxQuantity: '10' })).toBe('10');
    expect(sized({ sizingValue: '3', maxNotional: '500' }, { price: '200' })).toBe("max_notional_exceeded: 600 is above the route's limit of 500");
    expect(sized({ sizingValue: '3', maxNotional: '500' })).toBe("price_required: the signal has no price and the route's limit of 500 on notional needs one");
  });

  it('percent_equity leaves the quantity to execution', () => {
    const [leg] = planOrders(signal({ price: '50' }), route({ sizingMode: 'percent_equity', sizingValue: '10' }), 'paper');
    expect(leg).toMatchObject({ ok: true, plan: { intent: 'entry', referencePrice: '50' } });
    expect(leg.ok && 'quantity' in leg.plan).toBe(false);
  });
});

describe('sizing from equity at execution (sizeFromEquity)', () => {
  const plan: OrderPlan = { intent: 'entry', symbol: 'AAPL', side: 'buy', type: 'market', referencePrice: '50' };
  const equityRoute = (over: Partial<RouteRules> = {}) => route({ sizingMode: 'percent_equity', sizingValue: '10', ...over });

  it('is equity × value% ÷ price, rounded down to 8 places', () => {
    expect(sizeFromEquity(plan, equityRoute(), '10000')).toEqual({ quantity: '20' });
    expect(sizeFromEquity({ ...plan, referencePrice: '3' }, equityRoute(), '100')).toEqual({ quantity: '3.33333333' });
  });

  it('needs the signal price, and an equity that buys something', () => {
    expect(sizeFromEquity({ ...plan, referencePrice: undefined }, equityRoute(), '10000')).toEqual({
      reason: 'price_required: percent_equity sizing needs the signal price',
    });
    expect(sizeFromEquity(plan, equityRoute(), '0')).toEqual({ reason: 'quantity_zero: sizing produced no quantity' });
  });

  it('applies the route limits like every other mode', () => {
    expect(sizeFromEquity(plan, equityRoute({ maxQuantity: '5' }), '10000')).toEqual({
      reason: "max_quantity_exceeded: 20 is above the route's limit of 5",
      limit: 'maxQuantity',
    });
    expect(sizeFromEquity(plan, equityRoute({ maxNotional: '900' }), '10000')).toEqual({
      reason: "max_notional_exceeded: 1000 is above the route's limit of 900",
      limit: 'maxNotional',
    });
  });
});
