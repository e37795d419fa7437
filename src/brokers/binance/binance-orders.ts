import type { BrokerOrderState, BrokerOrderStatus, OrderAck, OrderRequest } from '../broker-adapter';
import { addDecimals, isDecimal, isPositiveDecimal } from '../../common/decimal';
import type { BrokerStreamEvent } from '../broker-stream';
import type { BinanceExecutionReport, BinanceOrder } from './binance-schemas';

/** Quote assets a spot symbol can end with, longest first so `BTCFDUSD` is not read as `…USD`. */
const QUOTE_ASSETS = ['FDUSD', 'USDT', 'USDC', 'BUSD', 'EUR', 'BTC', 'ETH'];
/** Statuses after which an order can no longer fill. */
const FINISHED_UNFILLED = new Set(['CANCELED', 'REJECTED', 'EXPIRED', 'EXPIRED_IN_MATCH']);
const BINANCE_SYMBOL = /^[A-Z0-9]{2,20}$/;
const AVERAGE_DECIMALS = 8;

/** `BINANCE:BTCUSDT`, `btc/usdt`, `BTC-USDT` → `BTCUSDT`; undefined when no Binance symbol remains. */
export function binanceSymbol(symbol: string): string | undefined {
  const plain = symbol
    .trim()
    .toUpperCase()
    .replace(/^[A-Z0-9_]+:/, '')
    .replace(/[/-]/g, '');
  return BINANCE_SYMBOL.test(plain) ? plain : undefined;
}

/** The base asset of a spot symbol (`BTCUSDT` → `BTC`): what a spot "position" is held in. */
export function baseAsset(symbol: string): string | undefined {
  const quote = QUOTE_ASSETS.find((q) => symbol.endsWith(q) && symbol.length > q.length);
  return quote && symbol.slice(0, -quote.length);
}

/** Why Binance spot cannot take this order shape, or undefined when it can. */
export function unsupportedReason(order: OrderRequest): string | undefined {
  if (order.type === 'stop') return 'Binance spot refuses plain stop (STOP_LOSS) orders on most symbols: send a stop_limit order';
  if ([order.takeProfit, order.stopLoss, order.trailPercent, order.trailAmount].some((v) => v !== undefined)) {
    return 'Binance spot orders cannot carry take-profit/stop-loss brackets';
  }
  if (order.type !== 'market' && order.timeInForce === 'day') return 'Binance spot has no day orders: use gtc, ioc or fok';
  return undefined;
}

/** The parameters of `POST /api/v3/order` (values already checked by assertOrderValues). */
export function binanceOrderParams(order: OrderRequest, symbol: string): Record<string, string> {
  const params: Record<string, string> = {
    symbol,
    side: order.side === 'buy' ? 'BUY' : 'SELL',
    type: order.type === 'market' ? 'MARKET' : order.type === 'limit' ? 'LIMIT' : 'STOP_LOSS_LIMIT',
    quantity: order.quantity,
    newClientOrderId: order.clientOrderId,
    newOrderRespType: 'FULL',
  };
  if (order.type !== 'market') {
    params.price = order.limitPrice!;
    params.timeInForce = (order.timeInForce ?? 'gtc').toUpperCase();
  }
  if (order.type === 'stop_limit') params.stopPrice = order.stopPrice!;
  return params;
}

export function binanceOrderAck(order: BinanceOrder): OrderAck {
  const status = ackStatus(order.status);
  const ack: OrderAck = { brokerOrderId: String(order.orderId), clientOrderId: order.clientOrderId, status };
  if (isPositiveDecimal(order.executedQty)) {
    ack.filledQuantity = normalized(order.executedQty);
    if (isPositiveDecimal(order.cummulativeQuoteQty)) ack.averagePrice = averagePrice(order.cummulativeQuoteQty, order.executedQty);
  }
  if (status === 'rejected') ack.reason = `order ${order.status} at Binance`;
  return ack;
}

function ackStatus(status: string): BrokerOrderStatus {
  if (status === 'FILLED') return 'filled';
  return FINISHED_UNFILLED.has(status) ? 'rejected' : 'accepted';
}

/** Binance's final statuses; NEW, PENDING_NEW, PARTIALLY_FILLED and PENDING_CANCEL are still working. */
const FINAL_STATUSES = new Map<string, BrokerOrderStatus>([
  ['FILLED', 'filled'],
  ['CANCELED', 'canceled'],
  ['EXPIRED', 'expired'],
  ['EXPIRED_IN_MATCH', 'expired'],
  ['REJECTED', 'rejected'],
]);

/** An order lookup as a lifecycle state: Binance reports the cumulative fill (executedQty, cummulativeQuoteQty). */
export function binanceOrderState(order: BinanceOrder): BrokerOrderState {
  const filled = isPositiveDecimal(order.executedQty) ? normalized(order.executedQty) : '0';
  const status = FINAL_STATUSES.get(order.status) ?? (filled === '0' ? 'accepted' : 'partially_filled');
  const state: BrokerOrderState = { brokerOrderId: String(order.orderId), status, filledQuantity: filled };
  if (filled !== '0' && isPositiveDecimal(order.cummulativeQuoteQty)) state.averagePrice = averagePrice(order.cummulativeQuoteQty, order.executedQty);
  if (order.updateTime !== undefined) state.updatedAt = new Date(order.updateTime).toISOString();
  if (status === 'canceled' || status === 'expired' || status === 'rejected') state.reason = `order ${order.status} at Binance`;
  return state;
}

/** Drops Binance's fixed 8-decimal padding (`"0.00100000"` → `"0.001"`). */
export function normalized(value: string): string {
  return addDecimals(value, '0');
}

/** Quote total ÷ base quantity, truncated to 8 decimals: Binance reports fill totals, not an average price. */
function averagePrice(quoteTotal: string, quantity: string): string {
  const q = scaled(quoteTotal);
  const b = scaled(quantity);
  const units = (q.units * 10n ** BigInt(b.scale + AVERAGE_DECIMALS)) / (b.units * 10n ** BigInt(q.scale));
  const unit = 10n ** BigInt(AVERAGE_DECIMALS);
  return normalized(`${units / unit}.${(units % unit).toString().padStart(AVERAGE_DECIMALS, '0')}`);
}

function scaled(value: string): { units: bigint; scale: number } {
  if (!isDecimal(value)) throw new RangeError('not an unsigned decimal');
  const [int, frac = ''] = value.split('.');
  return { units: BigInt(int + frac), scale: frac.length };
}

/** An executionReport as an order update: it carries the cumulative fill (z, Z), so it reads like an order lookup. */
export function binanceExecutionEvent(report: BinanceExecutionReport): BrokerStreamEvent {
  const clientOrderId = report.X === 'CANCELED' && report.C ? report.C : report.c;
  const order: BinanceOrder = {
    symbol: report.s,
    orderId: report.i,
    clientOrderId,
    status: report.X,
    executedQty: report.z,
    cummulativeQuoteQty: report.Z,
    updateTime: report.T,
  };
  return { clientOrderId, state: binanceOrderState(order) };
}
