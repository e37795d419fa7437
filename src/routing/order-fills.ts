import type { BrokerFill, BrokerOrderState } from '../brokers/broker-adapter';
import { div, formatDecimal, mul, parseDecimal, ZERO } from '../common/decimal';

/** What the order's recorded fills add up to. */
export interface RecordedFill {
  filledQuantity: string;
  averagePrice: string | null;
}

/**
 * The id of the fill that took an order to `cumulative` filled, for brokers whose order lookup reports only
 * the cumulative fill: the same step seen again (a re-poll, a retried submit) has the same id and counts once.
 */
export function cumulativeFillId(cumulative: string): string {
  return `cum:${cumulative}`;
}

/**
 * The fills the broker's answer adds: its own fills where it lists them (already recorded ones are skipped
 * by their id when stored), otherwise the one step from what is recorded to the broker's cumulative fill,
 * priced so that the recorded average and the step give the broker's average.
 */
export function newFills(recorded: RecordedFill, state: BrokerOrderState, now: Date): BrokerFill[] {
  if (state.fills) return state.fills;
  const before = parseDecimal(recorded.filledQuantity);
  const after = parseDecimal(state.filledQuantity);
  if (after <= before || !state.averagePrice) return [];
  const step = after - before;
  const notionalBefore = recorded.averagePrice ? mul(before, parseDecimal(recorded.averagePrice)) : ZERO;
  const price = div(mul(after, parseDecimal(state.averagePrice)) - notionalBefore, step);
  if (price <= ZERO) return [];
  return [
    {
      brokerFillId: cumulativeFillId(state.filledQuantity),
      quantity: formatDecimal(step),
      price: formatDecimal(price),
      time: state.updatedAt ?? now.toISOString(),
    },
  ];
}
