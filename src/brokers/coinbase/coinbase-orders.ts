import type { BrokerOrderState, BrokerOrderStatus, OrderAck, OrderRequest } from '../broker-adapter';
import { addDecimals, isPositiveDecimal } from '../../common/decimal';
import type { BrokerStreamEvent } from '../broker-stream';
import type { CoinbaseOrder, CoinbaseStreamOrder } from './coinbase-schemas';

/** Quote currencies of Coinbase products, longest first so `BTCUSDC` is not read as `BTCUSD` + `C`. */
const QUOTE_CURRENCIES = ['USDC', 'USDT', 'USD', 'EUR', 'GBP', 'BTC', 'ETH'];
/** Statuses after which an order can no longer fill. */
const FINISHED_UNFILLED = new Set(['CANCELLED', 'EXPIRED', 'FAILED']);
const PRODUCT_ID = /^[A-Z0-9]{1,12}-[A-Z0-9]{1,12}$/;

/** `COINBASE:BTCUSD`, `btc/usd`, `BTCUSD` → `BTC-USD`; undefined when no product id can be made of it. */
export function productId(symbol: string): string | undefined {
  const plain = symbol
    .trim()
    .toUpperCase()
    .replace(/^[A-Z0-9_]+:/, '')
    .replace('/', '-');
  if (PRODUCT_ID.test(plain)) return plain;
  const quote = QUOTE_CURRENCIES.find((q) => plain.endsWith(q) && plain.length > q.length);
  const id = quote && `${plain.slice(0, -quote.length)}-${quote}`;
  return id && PRODUCT_ID.test(id) ? id : undefined;
}

/** The currency a product is bought in units of (`BTC-USD` → `BTC`). */
export function baseCurrency(product: string): string {
  return product.slice(0, product.indexOf('-'));
}

/** Why Advanced Trade cannot take this order shape, or undefined when it can. */
export function unsupportedReason(order: OrderRequest): string | undefined {
  if (order.type === 'stop') return 'Coinbase Advanced Trade has no plain stop orders: send a stop_limit order';
  const tif = order.timeInForce ?? 'gtc';
  if (order.type === 'limit' && tif === 'day') return 'Coinbase has no day orders: use gtc, ioc or fok';
  if (order.type === 'stop_limit' && tif !== 'gtc') return 'Coinbase stop-limit orders are good-til-cancelled only';
  if (order.trailPercent !== undefined || order.trailAmount !== undefined) return 'Coinbase Advanced Trade has no trailing stops';
  if (order.stopLossLimit !== undefined) return 'Coinbase bracket stop-losses are stop triggers without a limit price';
  const exits = [order.takeProfit, order.stopLoss].filter((v) => v !== undefined).length;
  if (exits === 1) return 'Coinbase brackets need both a take-profit and a stop-loss';
  if (exits === 2 && order.type === 'stop_limit') return 'Coinbase attaches take-profit/stop-loss brackets to market and limit orders only';
  return undefined;
}

/** The `POST /api/v3/brokerage/orders` body (values already checked by assertOrderValues). */
export function coinbaseOrderBody(order: OrderRequest, product: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    client_order_id: order.clientOrderId,
    product_id: product,
    side: order.side === 'buy' ? 'BUY' : 'SELL',
    order_configuration: orderConfiguration(order),
  };
  if (order.takeProfit !== undefined && order.stopLoss !== undefined) {
    // The attached bracket takes the parent's size: Coinbase wants no base_size in it.
    body.attached_order_configuration = { trigger_bracket_gtc: { limit_price: order.takeProfit, stop_trigger_price: order.stopLoss } };
  }
  return body;
}

function orderConfiguration(order: OrderRequest): Record<string, unknown> {
  const base_size = order.quantity;
  const limit_price = order.limitPrice;
  if (order.type === 'market') return { market_market_ioc: { base_size } };
  if (order.type === 'stop_limit') {
    // A buy stop triggers on a rise through the stop price, a sell stop on a fall.
    const stop_direction = order.side === 'buy' ? 'STOP_DIRECTION_STOP_UP' : 'STOP_DIRECTION_STOP_DOWN';
    return { stop_limit_stop_limit_gtc: { base_size, limit_price, stop_price: order.stopPrice, stop_direction } };
  }
  if (order.timeInForce === 'ioc') return { sor_limit_ioc: { base_size, limit_price } };
  if (order.timeInForce === 'fok') return { limit_limit_fok: { base_size, limit_price } };
  return { limit_limit_gtc: { base_size, limit_price, post_only: false } };
}

export function coinbaseOrderAck(order: CoinbaseOrder): OrderAck {
  const status = ackStatus(order.status);
  const ack: OrderAck = { brokerOrderId: order.order_id, clientOrderId: order.client_order_id, status };
  // Coinbase pads amounts with zeros (`"0.0100000000"`); adding zero normalizes them.
  if (order.filled_size !== undefined && isPositiveDecimal(order.filled_size)) {
    ack.filledQuantity = addDecimals(order.filled_size, '0');
    if (order.average_filled_price !== undefined && isPositiveDecimal(order.average_filled_price)) {
      ack.averagePrice = addDecimals(order.average_filled_price, '0');
    }
  }
  if (status === 'rejected') ack.reason = order.reject_message || order.cancel_message || `order ${order.status} at Coinbase`;
  return ack;
}

function ackStatus(status: string): BrokerOrderStatus {
  if (status === 'FILLED') return 'filled';
  return FINISHED_UNFILLED.has(status) ? 'rejected' : 'accepted';
}

/** Coinbase's final statuses; OPEN, PENDING, QUEUED and CANCEL_QUEUED still work. */
const FINAL_STATUSES = new Map<string, BrokerOrderStatus>([
  ['FILLED', 'filled'],
  ['CANCELLED', 'canceled'],
  ['EXPIRED', 'expired'],
  ['FAILED', 'rejected'],
]);

/** An order lookup as a lifecycle state: Coinbase reports the cumulative fill (filled_size, average_filled_price). */
export function coinbaseOrderState(order: CoinbaseOrder): BrokerOrderState {
  const filled = order.filled_size !== undefined && isPositiveDecimal(order.filled_size) ? addDecimals(order.filled_size, '0') : '0';
  const status = FINAL_STATUSES.get(order.status) ?? (filled === '0' ? 'accepted' : 'partially_filled');
  const state: BrokerOrderState = { brokerOrderId: order.order_id, status, filledQuantity: filled };
  if (filled !== '0' && order.average_filled_price !== undefined && isPositiveDecimal(order.average_filled_price)) {
    state.averagePrice = addDecimals(order.average_filled_price, '0');
  }
  if (order.last_fill_time) state.updatedAt = order.last_fill_time;
  if (status === 'canceled' || status === 'expired' || status === 'rejected') {
    state.reason = order.reject_message || order.cancel_message || `order ${order.status} at Coinbase`;
  }
  return state;
}

/** A `user` channel order as an order update, read as an order lookup reads the same cumulative fill. */
export function coinbaseStreamEvent(order: CoinbaseStreamOrder): BrokerStreamEvent {
  const state = coinbaseOrderState({
    order_id: order.order_id,
    client_order_id: order.client_order_id,
    status: order.status,
    filled_size: order.cumulative_quantity,
    average_filled_price: order.avg_price,
  });
  return { clientOrderId: order.client_order_id, state };
}
