import type { BracketRole, BrokerFill, BrokerLeg, BrokerOrderState, BrokerOrderStatus, OrderRequest } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import type { TradovateAccount, TradovateFill, TradovateOrder } from './tradovate-schemas';

const BROKER = 'tradovate';
const ORDER_TYPES = { market: 'Market', limit: 'Limit', stop: 'Stop', stop_limit: 'StopLimit' } as const;
const TIMES_IN_FORCE = { gtc: 'GTC', day: 'Day', ioc: 'IOC', fok: 'FOK' } as const;
/** Tradovate's ordStatus values of an order still at the exchange (or on its way). */
const WORKING = new Set(['PendingNew', 'Working', 'PendingReplace', 'PendingCancel', 'Suspended', 'Unknown']);
/** A Map, so a broker status named like an Object.prototype member (`constructor`) is never a hit. */
const FINAL = new Map<string, BrokerOrderStatus>([
  ['Filled', 'filled'],
  ['Canceled', 'canceled'],
  ['Expired', 'expired'],
  ['Rejected', 'rejected'],
]);

/** The `POST /order/placeorder` body, or `/order/placeOSO` with its bracket legs (bracket1, bracket2) and their roles in that order. */
export function tradovateOrderRequest(
  order: OrderRequest,
  account: TradovateAccount,
  contract: string,
): { path: string; body: Record<string, unknown>; roles: BracketRole[] } {
  if (order.trailPercent !== undefined || order.trailAmount !== undefined) {
    throw new BrokerError('unsupported_order_type', BROKER, 'Switchyard sends no trailing stops to Tradovate; send a fixed stop loss instead');
  }
  if (!/^\d+$/.test(order.quantity)) throw new BrokerError('rejected', BROKER, `Tradovate trades whole contracts; quantity ${order.quantity} is not one`);
  const body: Record<string, unknown> = {
    accountSpec: account.name,
    accountId: account.id,
    clOrdId: order.clientOrderId,
    action: order.side === 'buy' ? 'Buy' : 'Sell',
    symbol: contract,
    orderQty: Number(order.quantity),
    orderType: ORDER_TYPES[order.type],
    // Market orders default to Day, resting ones to GTC; a Day limit would vanish at the session close.
    timeInForce: TIMES_IN_FORCE[order.timeInForce ?? (order.type === 'market' ? 'day' : 'gtc')],
    isAutomated: true,
  };
  if (order.limitPrice !== undefined) body.price = Number(order.limitPrice);
  if (order.stopPrice !== undefined) body.stopPrice = Number(order.stopPrice);
  const exit = order.side === 'buy' ? 'Sell' : 'Buy';
  const legs: Record<string, unknown>[] = [];
  const roles: BracketRole[] = [];
  if (order.takeProfit !== undefined) {
    legs.push({
      action: exit,
      clOrdId: tradovateLegClientId(order.clientOrderId, 'take_profit'),
      orderType: 'Limit',
      price: Number(order.takeProfit),
      timeInForce: 'GTC',
    });
    roles.push('take_profit');
  }
  if (order.stopLoss !== undefined) {
    const stop: Record<string, unknown> = {
      action: exit,
      clOrdId: tradovateLegClientId(order.clientOrderId, 'stop_loss'),
      orderType: order.stopLossLimit ? 'StopLimit' : 'Stop',
      stopPrice: Number(order.stopLoss),
      timeInForce: 'GTC',
    };
    if (order.stopLossLimit !== undefined) stop.price = Number(order.stopLossLimit);
    legs.push(stop);
    roles.push('stop_loss');
  }
  if (legs.length === 0) return { path: 'order/placeorder', body, roles };
  // With both legs Tradovate links them one-cancels-other once the entry fills.
  return { path: 'order/placeOSO', body: { ...body, bracket1: legs[0], ...(legs[1] ? { bracket2: legs[1] } : {}) }, roles };
}

const LEG_SUFFIXES: Record<BracketRole, string> = { take_profit: '-tp', stop_loss: '-sl' };

/** Our client id of an entry's bracket order (its `clOrdId` at Tradovate, the leg's client order id here). */
export function tradovateLegClientId(entryClientOrderId: string, role: BracketRole): string {
  return `${entryClientOrderId}${LEG_SUFFIXES[role]}`;
}

/**
 * The bracket orders placeOSO answered with (`oso1Id` for bracket1, `oso2Id` for bracket2) as legs: suspended until the
 * entry fills, then working; followed by their own order ids (Tradovate lists no command for a bracket's clOrdId).
 */
export function tradovateLegs(order: OrderRequest, roles: BracketRole[], ids: (number | undefined)[]): BrokerLeg[] {
  const legs: BrokerLeg[] = [];
  roles.forEach((role, i) => {
    const id = ids[i];
    if (id === undefined) return;
    const leg: BrokerLeg = {
      role,
      clientOrderId: tradovateLegClientId(order.clientOrderId, role),
      side: order.side === 'buy' ? 'sell' : 'buy',
      type: role === 'take_profit' ? 'limit' : order.stopLossLimit !== undefined ? 'stop_limit' : 'stop',
      quantity: order.quantity,
      state: { brokerOrderId: String(id), status: 'accepted', filledQuantity: '0' },
    };
    if (role === 'take_profit') leg.limitPrice = order.takeProfit;
    else {
      leg.stopPrice = order.stopLoss;
      if (order.stopLossLimit !== undefined) leg.limitPrice = order.stopLossLimit;
    }
    legs.push(leg);
  });
  return legs;
}

/**
 * An order and its fills as a lifecycle state. Fills arrive separately from the status, so an order said Filled
 * whose fills are not listed yet stays working until they are (the poller asks again).
 */
export function tradovateOrderState(order: TradovateOrder, fills: TradovateFill[], rejectReason?: string): BrokerOrderState {
  const own = fills.filter((f) => f.orderId === order.id && f.active !== false);
  const filledQuantity = own.reduce((sum, f) => sum + f.qty, 0);
  const state: BrokerOrderState = {
    brokerOrderId: String(order.id),
    status: statusOf(order.ordStatus, filledQuantity),
    filledQuantity: String(filledQuantity),
  };
  if (filledQuantity > 0) {
    state.averagePrice = decimalText(own.reduce((sum, f) => sum + f.qty * f.price, 0) / filledQuantity);
    state.fills = own.map((f): BrokerFill => ({ brokerFillId: String(f.id), quantity: String(f.qty), price: decimalText(f.price), time: f.timestamp }));
    state.updatedAt = own
      .map((f) => f.timestamp)
      .sort()
      .at(-1);
  }
  if (state.status === 'rejected' || state.status === 'canceled' || state.status === 'expired') {
    state.reason = `order ${order.ordStatus.toLowerCase()} at Tradovate${rejectReason ? ` (${rejectReason})` : ''}`;
  }
  return state;
}

export function isWorking(order: TradovateOrder): boolean {
  return WORKING.has(order.ordStatus) && order.ordStatus !== 'PendingCancel';
}

function statusOf(ordStatus: string, filled: number): BrokerOrderStatus {
  if (ordStatus === 'Filled' || ordStatus === 'Completed') return filled > 0 ? 'filled' : ordStatus === 'Completed' ? 'canceled' : 'accepted';
  const final = FINAL.get(ordStatus);
  if (final) return final;
  return filled > 0 ? 'partially_filled' : 'accepted';
}

/** Tradovate sends prices as JSON numbers; averages are cut at 8 decimals, never printed in exponent form. */
export function decimalText(value: number): string {
  return Number(value.toFixed(8)).toString();
}
