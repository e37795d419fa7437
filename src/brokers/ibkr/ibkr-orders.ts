import type { BracketRole, BrokerLeg, BrokerOrderState, BrokerOrderStatus, OrderAck, OrderRequest, OrderType } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import type { IbkrLiveOrder } from './ibkr-schemas';

const BROKER = 'ibkr';
const ORDER_TYPES = { market: 'MKT', limit: 'LMT', stop: 'STP', stop_limit: 'STP_LIMIT' } as const;
const TIMES_IN_FORCE = { gtc: 'GTC', day: 'DAY', ioc: 'IOC', fok: 'FOK' } as const;
/** IBKR order statuses that are final, as our states (a Map: a status named like an Object member is no hit). */
const FINAL = new Map<string, BrokerOrderStatus>([
  ['Filled', 'filled'],
  ['Cancelled', 'canceled'],
  ['ApiCancelled', 'canceled'],
  ['Inactive', 'rejected'],
]);
const ROLES: Record<BracketRole, 'tp' | 'sl'> = { take_profit: 'tp', stop_loss: 'sl' };
/** IBKR's order type names in order lists (`origOrderType`), both spellings, as ours. */
const LISTED_TYPES = new Map<string, OrderType>([
  ['MKT', 'market'],
  ['MARKET', 'market'],
  ['LMT', 'limit'],
  ['LIMIT', 'limit'],
  ['STP', 'stop'],
  ['STOP', 'stop'],
  ['STP_LIMIT', 'stop_limit'],
  ['STOP_LIMIT', 'stop_limit'],
]);
/** Child order ids: the entry's cOID with a suffix, kept within our 32-character client order id contract. */
export const legOrderId = (clientOrderId: string, role: BracketRole) => `${clientOrderId.slice(0, 29)}-${ROLES[role]}`;

/** The body of `POST /iserver/account/{accountId}/orders`: the entry, then its bracket children (parentId = the entry's cOID). */
export function ibkrOrderBody(order: OrderRequest, conid: number): { orders: Record<string, unknown>[] } {
  if (order.trailPercent !== undefined || order.trailAmount !== undefined) {
    throw new BrokerError('unsupported_order_type', BROKER, 'Switchyard sends no trailing stops to IBKR; send a fixed stop loss instead');
  }
  const tif = TIMES_IN_FORCE[order.timeInForce ?? (order.type === 'market' ? 'day' : 'gtc')];
  const entry: Record<string, unknown> = {
    conid,
    cOID: order.clientOrderId,
    orderType: ORDER_TYPES[order.type],
    side: order.side === 'buy' ? 'BUY' : 'SELL',
    quantity: Number(order.quantity),
    tif,
  };
  // STP_LIMIT: `price` is the limit, `auxPrice` the stop; STP: `price` is the stop.
  if (order.type === 'limit') entry.price = Number(order.limitPrice);
  if (order.type === 'stop') entry.price = Number(order.stopPrice);
  if (order.type === 'stop_limit') Object.assign(entry, { price: Number(order.limitPrice), auxPrice: Number(order.stopPrice) });
  const exit = order.side === 'buy' ? 'SELL' : 'BUY';
  const child = (role: BracketRole, fields: Record<string, unknown>) => ({
    conid,
    cOID: legOrderId(order.clientOrderId, role),
    parentId: order.clientOrderId,
    side: exit,
    quantity: Number(order.quantity),
    tif: 'GTC',
    ...fields,
  });
  const orders = [entry];
  if (order.takeProfit !== undefined) orders.push(child('take_profit', { orderType: 'LMT', price: Number(order.takeProfit) }));
  if (order.stopLoss !== undefined) {
    orders.push(
      child(
        'stop_loss',
        order.stopLossLimit !== undefined
          ? { orderType: 'STP_LIMIT', price: Number(order.stopLossLimit), auxPrice: Number(order.stopLoss) }
          : { orderType: 'STP', price: Number(order.stopLoss) },
      ),
    );
  }
  return { orders };
}

/** The bracket children as the order answer placed them (one answer element per order sent, entry first). */
export function submittedLegs(order: OrderRequest, placed: Array<{ order_id?: string; order_status?: string }>): BrokerLeg[] | undefined {
  const exit = order.side === 'buy' ? 'sell' : 'buy';
  const wanted: Array<Omit<BrokerLeg, 'state' | 'clientOrderId'>> = [];
  if (order.takeProfit !== undefined) wanted.push({ role: 'take_profit', side: exit, type: 'limit', quantity: order.quantity, limitPrice: order.takeProfit });
  if (order.stopLoss !== undefined) {
    const limit = order.stopLossLimit;
    wanted.push({
      role: 'stop_loss',
      side: exit,
      type: limit ? 'stop_limit' : 'stop',
      quantity: order.quantity,
      stopPrice: order.stopLoss,
      ...(limit ? { limitPrice: limit } : {}),
    });
  }
  const legs = wanted.flatMap((leg, i) => {
    const answer = placed[i + 1];
    if (!answer?.order_id) return [];
    const state: BrokerOrderState = { brokerOrderId: answer.order_id, status: submittedStatus(answer.order_status), filledQuantity: '0' };
    return [{ ...leg, clientOrderId: legOrderId(order.clientOrderId, leg.role), state }];
  });
  return legs.length > 0 ? legs : undefined;
}

/** The bracket children of an entry as the gateway lists them now (found by their derived cOIDs). */
export function ibkrLegs(clientOrderId: string, orders: IbkrLiveOrder[]): BrokerLeg[] | undefined {
  const legs: BrokerLeg[] = [];
  for (const role of ['take_profit', 'stop_loss'] as const) {
    const child = orders.find((o) => o.order_ref === legOrderId(clientOrderId, role));
    const type = child && LISTED_TYPES.get((child.origOrderType ?? '').toUpperCase().replace(' ', '_'));
    if (!child || !type || child.totalSize === undefined) continue;
    const leg: BrokerLeg = {
      role,
      clientOrderId: child.order_ref!,
      side: child.side === 'SELL' ? 'sell' : 'buy',
      type,
      quantity: decimalText(child.totalSize),
      state: ibkrOrderState(child),
    };
    // STP_LIMIT: `price` is the limit, `auxPrice` the stop; STP: `price` is the stop.
    if (child.price !== undefined) leg[type === 'stop' ? 'stopPrice' : 'limitPrice'] = decimalText(child.price);
    if (type === 'stop_limit' && child.auxPrice !== undefined) leg.stopPrice = decimalText(child.auxPrice);
    legs.push(leg);
  }
  return legs.length > 0 ? legs : undefined;
}

/** An order of `/iserver/account/orders` as a lifecycle state: filledQuantity and avgPrice are cumulative. */
export function ibkrOrderState(order: IbkrLiveOrder): BrokerOrderState {
  const filled = order.filledQuantity ?? 0;
  const final = FINAL.get(order.status);
  const status: BrokerOrderStatus = final ?? (filled > 0 ? 'partially_filled' : 'accepted');
  const state: BrokerOrderState = { brokerOrderId: order.orderId, status, filledQuantity: decimalText(filled) };
  if (filled > 0 && order.avgPrice !== undefined && Number.isFinite(order.avgPrice)) state.averagePrice = decimalText(order.avgPrice);
  if (order.lastExecutionTime_r !== undefined) state.updatedAt = new Date(order.lastExecutionTime_r).toISOString();
  if (status === 'rejected' || status === 'canceled') state.reason = `order ${order.status.toLowerCase()} at IBKR`;
  return state;
}

export function ibkrOrderAck(order: IbkrLiveOrder, clientOrderId: string): OrderAck {
  const state = ibkrOrderState(order);
  const ack: OrderAck = { brokerOrderId: state.brokerOrderId, clientOrderId, status: state.status, filledQuantity: state.filledQuantity };
  if (state.averagePrice !== undefined) ack.averagePrice = state.averagePrice;
  if (state.reason !== undefined) ack.reason = state.reason;
  return ack;
}

/** The status text of the order answer (`order_status`) as our state at submission. */
export function submittedStatus(orderStatus: string | undefined): BrokerOrderStatus {
  return (orderStatus && FINAL.get(orderStatus)) || 'accepted';
}

export function isWorking(order: IbkrLiveOrder): boolean {
  return !FINAL.has(order.status) && order.status !== 'PendingCancel';
}

/** IBKR sends numbers; cut at 8 decimals, never in exponent form. */
export function decimalText(value: number): string {
  return Number(value.toFixed(8)).toString();
}
