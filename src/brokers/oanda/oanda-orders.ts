import type { BracketRole, BrokerLeg, BrokerOrderState, OrderAck, OrderRequest } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import { absDecimal, negateDecimal } from '../../common/decimal';
import type { BrokerStreamEvent } from '../broker-stream';
import type { OandaOrder, OandaOrderCreated, OandaStreamLine, OandaTransaction } from './oanda-schemas';

const BROKER = 'oanda';
const ORDER_TYPES = { market: 'MARKET', limit: 'LIMIT', stop: 'STOP' } as const;
const TIMES_IN_FORCE = { gtc: 'GTC', day: 'GFD', ioc: 'IOC', fok: 'FOK' } as const;

/**
 * OANDA instruments are `BASE_QUOTE` (EUR_USD, XAU_USD, SPX500_USD); `OANDA:EURUSD`, `EURUSD` and `EUR/USD`
 * map to that form; undefined when no instrument can be made of it.
 */
export function oandaInstrumentName(symbol: string): string | undefined {
  const s = symbol
    .trim()
    .toUpperCase()
    .replace(/^[A-Z0-9_]+:/, '')
    .replace('/', '_');
  if (/^[A-Z]{6}$/.test(s)) return `${s.slice(0, 3)}_${s.slice(3)}`;
  if (/^[A-Z0-9]{2,12}_[A-Z0-9]{2,12}$/.test(s)) return s;
  return undefined;
}

export function oandaInstrument(symbol: string): string {
  const instrument = oandaInstrumentName(symbol);
  if (instrument) return instrument;
  throw new BrokerError('rejected', BROKER, `${JSON.stringify(symbol.slice(0, 24))} is not an OANDA instrument (expected e.g. EUR_USD or EURUSD)`);
}

/** The `POST /v3/accounts/{id}/orders` body (values already checked by assertOrderValues). */
export function oandaOrderBody(order: OrderRequest): { order: Record<string, unknown> } {
  if (order.type === 'stop_limit') {
    throw new BrokerError('unsupported_order_type', BROKER, 'OANDA has no stop-limit orders; use a stop or a limit order');
  }
  const body: Record<string, unknown> = {
    type: ORDER_TYPES[order.type],
    instrument: oandaInstrument(order.symbol),
    // v20 has no side: negative units sell.
    units: order.side === 'sell' ? negateDecimal(order.quantity) : order.quantity,
    timeInForce: timeInForce(order),
    positionFill: 'DEFAULT',
    clientExtensions: { id: order.clientOrderId },
  };
  if (order.type === 'limit') body.price = order.limitPrice;
  if (order.type === 'stop') body.price = order.stopPrice;
  if (order.stopLossLimit !== undefined)
    throw new BrokerError('unsupported_order_type', BROKER, 'OANDA stop-losses have no limit price: send a stop or a trailing stop');
  if (order.trailPercent !== undefined)
    throw new BrokerError('unsupported_order_type', BROKER, 'OANDA trailing stops trail by a price distance: send trailAmount, not trailPercent');
  // The dependent orders carry client ids of ours, so each is looked up and matched to stream events as a leg.
  const tp = { clientExtensions: { id: oandaLegClientId(order.clientOrderId, 'take_profit') } };
  const sl = { clientExtensions: { id: oandaLegClientId(order.clientOrderId, 'stop_loss') } };
  if (order.takeProfit !== undefined) body.takeProfitOnFill = { price: order.takeProfit, ...tp };
  if (order.stopLoss !== undefined) body.stopLossOnFill = { price: order.stopLoss, ...sl };
  if (order.trailAmount !== undefined) body.trailingStopLossOnFill = { distance: order.trailAmount, ...sl };
  return { order: body };
}

const LEG_SUFFIXES: Record<BracketRole, string> = { take_profit: '-tp', stop_loss: '-sl' };

/** The client id of an entry's take-profit or stop-loss order at OANDA (set in its on-fill details). */
export function oandaLegClientId(entryClientOrderId: string, role: BracketRole): string {
  return `${entryClientOrderId}${LEG_SUFFIXES[role]}`;
}

type OnFill = { clientExtensions?: { id?: string } } | undefined;

/** The dependent orders an entry asks for on fill, with the client ids we gave them (details without one are not ours to follow). */
export function oandaLegSpecs(entry: {
  takeProfitOnFill?: OnFill;
  stopLossOnFill?: OnFill;
  trailingStopLossOnFill?: OnFill;
}): { role: BracketRole; clientOrderId: string }[] {
  const specs: { role: BracketRole; clientOrderId: string }[] = [];
  const add = (role: BracketRole, details: OnFill) => {
    const id = details?.clientExtensions?.id;
    if (id) specs.push({ role, clientOrderId: id });
  };
  add('take_profit', entry.takeProfitOnFill);
  add('stop_loss', entry.stopLossOnFill ?? entry.trailingStopLossOnFill);
  return specs;
}

/**
 * A dependent order as a bracket leg: it closes the trade the entry's fill opened (`openedUnits`, signed), so its side
 * is the other side and its quantity the trade's; a take-profit is a limit, a stop-loss a stop (a trailing one has no
 * fixed stop price).
 */
export function oandaLeg(
  role: BracketRole,
  clientOrderId: string,
  openedUnits: string,
  order: { type?: string; price?: string },
  state: BrokerOrderState,
): BrokerLeg {
  const leg: BrokerLeg = {
    role,
    clientOrderId,
    side: openedUnits.startsWith('-') ? 'buy' : 'sell',
    type: role === 'take_profit' ? 'limit' : 'stop',
    quantity: absDecimal(openedUnits),
    state,
  };
  if (order.price !== undefined && role === 'take_profit') leg.limitPrice = order.price;
  if (order.price !== undefined && role === 'stop_loss' && !order.type?.startsWith('TRAILING')) leg.stopPrice = order.price;
  return leg;
}

/** Market orders cannot rest at OANDA (FOK or IOC only, FOK being OANDA's default); `day` is OANDA's GFD. */
function timeInForce(order: OrderRequest): string {
  if (order.type === 'market') return order.timeInForce === 'ioc' ? 'IOC' : 'FOK';
  return TIMES_IN_FORCE[order.timeInForce ?? 'gtc'];
}

/** A 201 to an order: filled at once, cancelled at once (e.g. INSUFFICIENT_MARGIN), or pending. */
export function oandaCreatedAck(created: OandaOrderCreated, clientOrderId: string): OrderAck {
  const ack: OrderAck = { brokerOrderId: created.orderCreateTransaction.id, clientOrderId, status: 'accepted' };
  const fill = created.orderFillTransaction;
  if (fill) {
    ack.status = 'filled';
    ack.filledQuantity = absDecimal(fill.units);
    const price = fill.fullVWAP ?? fill.price;
    if (price !== undefined) ack.averagePrice = price;
  } else if (created.orderCancelTransaction) {
    ack.status = 'rejected';
    ack.reason = created.orderCancelTransaction.reason ?? 'cancelled by OANDA';
  }
  return ack;
}

/** An order as `GET …/orders/{specifier}` shows it (states PENDING, TRIGGERED, FILLED, CANCELLED). */
export function oandaOrderAck(order: OandaOrder, clientOrderId: string): OrderAck {
  const ack: OrderAck = { brokerOrderId: order.id, clientOrderId, status: 'accepted' };
  if (order.state === 'FILLED') {
    ack.status = 'filled';
    if (order.units !== undefined) ack.filledQuantity = absDecimal(order.units);
  } else if (order.state === 'CANCELLED') {
    ack.status = 'rejected';
    ack.reason = 'order cancelled at OANDA';
  }
  return ack;
}

/**
 * An order lookup as a lifecycle state. v20 fills a pending order in one ORDER_FILL transaction, which names
 * the units, price and commission (the order itself carries no fill); a cancellation's transaction tells an
 * expiry (TIME_IN_FORCE_EXPIRED) from a cancel.
 */
export function oandaOrderState(order: OandaOrder, ended?: OandaTransaction): BrokerOrderState {
  const state: BrokerOrderState = { brokerOrderId: order.id, status: 'accepted', filledQuantity: '0' };
  if (order.state === 'FILLED' && ended?.units !== undefined) {
    const quantity = absDecimal(ended.units);
    const price = ended.fullVWAP ?? ended.price;
    Object.assign(state, { status: 'filled', filledQuantity: quantity, updatedAt: ended.time });
    if (price !== undefined) {
      state.averagePrice = price;
      state.fills = [{ brokerFillId: ended.id, quantity, price, time: ended.time, ...(ended.commission !== undefined ? { fee: ended.commission } : {}) }];
    }
  } else if (order.state === 'CANCELLED') {
    const reason = ended?.reason ?? 'CANCELLED';
    Object.assign(state, { status: reason === 'TIME_IN_FORCE_EXPIRED' ? 'expired' : 'canceled', reason: `order cancelled at OANDA (${reason})` });
    if (ended) state.updatedAt = ended.time;
  }
  return state;
}

const DEPENDENT_ROLES: Record<string, BracketRole> = {
  TAKE_PROFIT_ORDER: 'take_profit',
  STOP_LOSS_ORDER: 'stop_loss',
  TRAILING_STOP_LOSS_ORDER: 'stop_loss',
};
/** Fills remembered per stream for the dependent orders created after them in their batch. */
const REMEMBERED_FILLS = 256;

/**
 * Reads a transaction stream's lines as order updates: the ORDER_FILL or ORDER_CANCEL of one of our orders, read as the
 * order lookup reads that same transaction (same fill id); and a take-profit/stop-loss order v20 created ON_FILL as
 * the entry's fill state again with that leg (v20 streams it after the fill that opened its trade, which names neither
 * leg). Undefined for heartbeats and everything else. One reader per stream: it remembers the latest fills.
 */
export function oandaStreamReader(): (line: OandaStreamLine) => BrokerStreamEvent | undefined {
  const fills = new Map<string, { clientOrderId: string; state: BrokerOrderState; openedUnits: string }>();
  return (line) => {
    if (!line.id || !line.time) return undefined;
    const role = line.type ? DEPENDENT_ROLES[line.type] : undefined;
    if (role) {
      const fill = line.orderFillTransactionID !== undefined ? fills.get(line.orderFillTransactionID) : undefined;
      const clientOrderId = line.clientExtensions?.id;
      if (!fill || !clientOrderId || line.reason !== 'ON_FILL') return undefined;
      const state: BrokerOrderState = { brokerOrderId: line.id, status: 'accepted', filledQuantity: '0', updatedAt: line.time };
      return { clientOrderId: fill.clientOrderId, state: { ...fill.state, legs: [oandaLeg(role, clientOrderId, fill.openedUnits, line, state)] } };
    }
    if (!line.clientOrderID || !line.orderID) return undefined;
    const transaction = { ...line, id: line.id, time: line.time };
    if (line.type === 'ORDER_FILL') {
      const state = oandaOrderState({ id: line.orderID, state: 'FILLED' }, transaction);
      if (line.tradeOpened) {
        fills.set(line.id, { clientOrderId: line.clientOrderID, state, openedUnits: line.tradeOpened.units });
        if (fills.size > REMEMBERED_FILLS) fills.delete(fills.keys().next().value!);
      }
      return { clientOrderId: line.clientOrderID, state };
    }
    if (line.type === 'ORDER_CANCEL')
      return { clientOrderId: line.clientOrderID, state: oandaOrderState({ id: line.orderID, state: 'CANCELLED' }, transaction) };
    return undefined;
  };
}
