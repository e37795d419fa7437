import type { PoolClient } from 'pg';
import type { BrokerLeg, BrokerOrderState } from '../brokers/broker-adapter';
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
  const moved = recorded && !isStale(recorded, state) ? await applyState(repository, client, orderId, recorded, state, nextInMs) : undefined;
  // Legs are recorded whatever the entry's own state: an answer about a filled entry is how its legs are first seen.
  const legFilled = state.legs?.length ? await recordLegs(repository, client, orderId, state.legs, nextInMs) : false;
  // The entry itself did not move (ended, or a stale answer), but a leg filled: no transition, a fill to act on.
  if (!moved) return legFilled ? { from: recorded?.status ?? state.status, to: recorded?.status ?? state.status, filled: true } : undefined;
  return { ...moved, filled: moved.filled || legFilled };
}

async function applyState(
  repository: OrderSyncRepository,
  client: PoolClient,
  orderId: string,
  recorded: RecordedFill & { status: string },
  state: BrokerOrderState,
  nextInMs: number,
): Promise<{ from: string; to: string; filled: boolean }> {
  const fills = newFills(recorded, state, new Date());
  await repository.apply(client, orderId, { status: state.status, brokerOrderId: state.brokerOrderId, reason: state.reason, fills, nextInMs });
  return { from: recorded.status, to: state.status, filled: fills.length > 0 };
}

/**
 * The entry's bracket legs (from its submit answer or any later look at it): each recorded as an order of its own, then
 * its state recorded on the same path as any order's. True when a leg added a fill.
 */
export async function recordLegs(
  repository: OrderSyncRepository,
  client: PoolClient,
  parentOrderId: string,
  legs: BrokerLeg[],
  nextInMs: number,
): Promise<boolean> {
  const ids = new Map((await repository.recordLegs(client, parentOrderId, legs)).map((r) => [r.brokerOrderId, r.id]));
  let filled = false;
  for (const leg of legs) {
    const id = ids.get(leg.state.brokerOrderId);
    const moved = id ? await recordBrokerState(repository, client, id, leg.state, nextInMs) : undefined;
    filled ||= moved?.filled ?? false;
  }
  return filled;
}
