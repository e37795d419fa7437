import type { BrokerOrderState } from '../../src/brokers/broker-adapter';
import { isStale } from '../../src/routing/order-state';

/** A stream event older than what is recorded (late, or replayed after a poll) must not move the order back. */
describe('isStale', () => {
  const state = (status: BrokerOrderState['status'], filledQuantity: string): BrokerOrderState => ({ brokerOrderId: 'b', status, filledQuantity });
  const recorded = (status: string, filledQuantity: string) => ({ status, filledQuantity, averagePrice: filledQuantity === '0' ? null : '100' });

  it.each([
    ['less filled than recorded', recorded('partially_filled', '4'), state('partially_filled', '3.5'), true],
    ['accepted at the same fill as a recorded partial fill', recorded('partially_filled', '4'), state('accepted', '4'), true],
    ['the same step again (a replay)', recorded('partially_filled', '4'), state('partially_filled', '4'), false],
    ['more filled', recorded('partially_filled', '4'), state('filled', '10'), false],
    ['canceled after a partial fill', recorded('partially_filled', '4'), state('canceled', '4'), false],
    ['accepted with nothing recorded', recorded('accepted', '0'), state('accepted', '0'), false],
  ])('%s', (_what, before, answer, stale) => {
    expect(isStale(before, answer)).toBe(stale);
  });
});
