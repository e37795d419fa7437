import type { PoolClient } from 'pg';
import type { BrokerOrderState } from '../brokers/broker-adapter';
import { parseDecimal } from '../common/decimal';
import { newFills, RecordedFill } from './order-fills';
import type { OrderSyncRepository } from './order-sync.repository';

/**
 * An answer older than what is recorded (a stream event delivered late or replayed after a newer poll or event):
 * less filled than recorded, or `accepted` at the same fill while recorded partially filled.
 */
export function isStale(recorded: RecordedFill & { status: string }, state: BrokerOrderState): boolean {
  const before = parseDecimal(recorded.filledQuantity);
  const after = parseDecimal(state.filledQuantity);
  return after < before || (after === before && state.status === 'accepted' && recorded.status === 'partially_filled');
}

/**
 * Records what the broker says of an order — a poll's answer or a stream event, one path for both: the order is
 * locked first and the new fills derived from what is recorded under that lock, so a poll and an event landing
 * together (or a replay) never add the same step twice. Undefined when the order no longer works or the answer
 * is stale; otherwise the status it moved from and to, and whether it added a fill.
 */
export async function recordBrokerState(
  repository: OrderSyncRepository,
  client: PoolClient,
  orderId: string,
  state: BrokerOrderState,
  nextInMs: number,
): Promise<{ from: string; to: string; filled: boolean } | undefined> {
  const recorded = await repository.lockWorking(client, orderId);
  if (!recorded || isStale(recorded, state)) return undefined;
  const fills = newFills(recorded, state, new Date());
  await repository.apply(client, orderId, { status: state.status, brokerOrderId: state.brokerOrderId, reason: state.reason, fills, nextInMs });
  return { from: recorded.status, to: state.status, filled: fills.length > 0 };
}
