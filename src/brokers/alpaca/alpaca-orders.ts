import type { BracketRole, BrokerLeg, BrokerOrderState, BrokerOrderStatus, OrderAck, OrderRequest, OrderType } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import { isPositiveDecimal } from '../../common/decimal';
import type { AlpacaLeg, AlpacaOrder } from './alpaca-schemas';

/** Alpaca statuses after which the order can no longer fill; everything else is still live at the broker. */
const FINISHED_UNFILLED = new Set(['rejected', 'canceled', 'expired']);

/** The `POST /v2/orders` body for one order request (values already checked by assertOrderValues). */
export function alpacaOrderBody(order: OrderRequest): Record<string, unknown> {
  if (order.trailPercent !== undefined || order.trailAmount !== undefined) {
    // Alpaca's trailing stops are orders of their own (type trailing_stop), never a bracket's stop-loss leg.
    throw new BrokerError('unsupported_order_type', 'alpaca', 'Alpaca brackets take a stop or stop-limit stop-loss, not a trailing stop');
  }
  const symbol = order.symbol.trim().toUpperCase();
  const body: Record<string, unknown> = {
    symbol,
    qty: order.quantity,
    side: order.side,
    type: order.type,
    time_in_force: order.timeInForce ?? defaultTimeInForce(symbol),
    client_order_id: order.clientOrderId,
  };
  if (order.type === 'limit' || order.type === 'stop_limit') body.limit_price = order.limitPrice;
  if (order.type === 'stop' || order.type === 'stop_limit') body.stop_price = order.stopPrice;
  if (order.takeProfit !== undefined || order.stopLoss !== undefined) {
    // Both exits make a bracket; a single exit is a one-triggers-other order.
    body.order_class = order.takeProfit !== undefined && order.stopLoss !== undefined ? 'bracket' : 'oto';
    if (order.takeProfit !== undefined) body.take_profit = { limit_price: order.takeProfit };
    if (order.stopLoss !== undefined)
      body.stop_loss = { stop_price: order.stopLoss, ...(order.stopLossLimit !== undefined && { limit_price: order.stopLossLimit }) };
  }
  return body;
}

/** Crypto pairs (`BTC/USD`) take no `day` orders at Alpaca; equities default to `day`. */
function defaultTimeInForce(symbol: string): 'gtc' | 'day' {
  return symbol.includes('/') ? 'gtc' : 'day';
}

export function alpacaOrderAck(order: AlpacaOrder): OrderAck {
  const status = alpacaStatus(order.status);
  const ack: OrderAck = { brokerOrderId: order.id, clientOrderId: order.client_order_id, status };
  if (order.filled_qty && isPositiveDecimal(order.filled_qty)) ack.filledQuantity = order.filled_qty;
  if (order.filled_avg_price) ack.averagePrice = order.filled_avg_price;
  if (status === 'rejected') ack.reason = `order ${order.status} at Alpaca`;
  const legs = alpacaLegs(order);
  if (legs) ack.legs = legs;
  return ack;
}

function alpacaStatus(status: string): 'accepted' | 'filled' | 'rejected' {
  if (status === 'filled') return 'filled';
  return FINISHED_UNFILLED.has(status) ? 'rejected' : 'accepted';
}

/** Alpaca's final statuses by lifecycle state; every other status (new, partially_filled, held, done_for_day, …) still works. */
// A Map: the status is the broker's text, and a plain object would answer `constructor` from its prototype.
const FINAL_STATUSES = new Map<string, BrokerOrderStatus>([
  ['filled', 'filled'],
  ['canceled', 'canceled'],
  ['replaced', 'canceled'],
  ['expired', 'expired'],
  ['rejected', 'rejected'],
  ['suspended', 'rejected'],
]);

/** An order lookup as a lifecycle state: Alpaca gives the cumulative fill (filled_qty, filled_avg_price), not each fill. */
export function alpacaOrderState(order: AlpacaOrder): BrokerOrderState {
  const state = simpleOrderState(order);
  const legs = alpacaLegs(order);
  if (legs) state.legs = legs;
  return state;
}

/** A leg's role by its type: the take-profit is the limit, the stop-loss the stop or stop-limit. */
const LEG_ROLES = new Map<string, { role: BracketRole; type: OrderType }>([
  ['limit', { role: 'take_profit', type: 'limit' }],
  ['stop', { role: 'stop_loss', type: 'stop' }],
  ['stop_limit', { role: 'stop_loss', type: 'stop_limit' }],
]);

/** The exit orders Alpaca lists in `legs` (bracket, oto, oco), each with its state; a leg it does not describe fully is left out. */
function alpacaLegs(order: AlpacaOrder): BrokerLeg[] | undefined {
  if (!order.legs?.length) return undefined;
  const legs: BrokerLeg[] = [];
  for (const leg of order.legs) {
    const kind = leg.type ? LEG_ROLES.get(leg.type) : undefined;
    if (!kind || !leg.side || !leg.qty || !leg.client_order_id) continue;
    legs.push({
      ...kind,
      clientOrderId: leg.client_order_id,
      side: leg.side,
      quantity: leg.qty,
      limitPrice: leg.limit_price ?? undefined,
      stopPrice: leg.stop_price ?? undefined,
      state: simpleOrderState(leg),
    });
  }
  return legs;
}

function simpleOrderState(order: AlpacaLeg): BrokerOrderState {
  const filled = order.filled_qty && isPositiveDecimal(order.filled_qty) ? order.filled_qty : '0';
  const status = FINAL_STATUSES.get(order.status) ?? (filled === '0' ? 'accepted' : 'partially_filled');
  const state: BrokerOrderState = { brokerOrderId: order.id, status, filledQuantity: filled };
  if (filled !== '0' && order.filled_avg_price) state.averagePrice = order.filled_avg_price;
  if (order.updated_at) state.updatedAt = order.updated_at;
  if (status === 'canceled' || status === 'expired' || status === 'rejected') state.reason = `order ${order.status} at Alpaca`;
  return state;
}
