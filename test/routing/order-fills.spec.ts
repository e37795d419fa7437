import { alpacaOrderState } from '../../src/brokers/alpaca/alpaca-orders';
import { newFills } from '../../src/routing/order-fills';

const now = new Date('2026-12-07T03:00:00.000Z');

describe('fills derived from a broker that reports only the cumulative fill', () => {
  it('the first step is the whole cumulative fill at the broker average', () => {
    expect(
      newFills({ filledQuantity: '0', averagePrice: null }, { brokerOrderId: 'b', status: 'partially_filled', filledQuantity: '4', averagePrice: '100' }, now),
    ).toEqual([{ brokerFillId: 'cum:4', quantity: '4', price: '100', time: now.toISOString() }]);
  });

  it('a later step is priced so the recorded fills and it average to the broker average', () => {
    const fills = newFills(
      { filledQuantity: '4', averagePrice: '100' },
      { brokerOrderId: 'b', status: 'filled', filledQuantity: '10', averagePrice: '100.6', updatedAt: '2026-12-07T03:00:05Z' },
      now,
    );
    expect(fills).toEqual([{ brokerFillId: 'cum:10', quantity: '6', price: '101', time: '2026-12-07T03:00:05Z' }]);
  });

  it('nothing new when the cumulative fill did not grow (a re-poll)', () => {
    expect(
      newFills({ filledQuantity: '10', averagePrice: '100.6' }, { brokerOrderId: 'b', status: 'filled', filledQuantity: '10', averagePrice: '100.6' }, now),
    ).toEqual([]);
  });

  it("the broker's own fills are taken as they are", () => {
    const own = [{ brokerFillId: 't1', quantity: '1', price: '2', time: now.toISOString() }];
    expect(
      newFills({ filledQuantity: '0', averagePrice: null }, { brokerOrderId: 'b', status: 'filled', filledQuantity: '1', averagePrice: '2', fills: own }, now),
    ).toBe(own);
  });
});

describe('Alpaca order statuses as lifecycle states', () => {
  const order = (status: string, filled = '0', avg: string | null = null) => ({
    id: 'a1',
    client_order_id: 'c1',
    status,
    filled_qty: filled,
    filled_avg_price: avg,
  });

  it.each([
    ['new', '0', 'accepted'],
    ['accepted', '0', 'accepted'],
    ['partially_filled', '3', 'partially_filled'],
    ['done_for_day', '3', 'partially_filled'],
    ['filled', '5', 'filled'],
    ['canceled', '0', 'canceled'],
    ['canceled', '2', 'canceled'],
    ['expired', '0', 'expired'],
    ['rejected', '0', 'rejected'],
  ])('%s with %s filled is %s', (status, filled, expected) => {
    const state = alpacaOrderState(order(status, filled, filled === '0' ? null : '10'));
    expect(state.status).toBe(expected);
    expect(state.filledQuantity).toBe(filled);
    expect(state.averagePrice).toBe(filled === '0' ? undefined : '10');
  });
});
