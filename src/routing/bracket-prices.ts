import type { StopLoss, TakeProfit } from '../signals/signal-brackets';
import { div, formatDecimal, HUNDRED, mul, parseDecimal, round, ZERO } from '../common/decimal';

/** An entry's bracket legs as the broker takes them: absolute prices, or a trail. */
export interface BracketPrices {
  takeProfit?: string;
  stopLoss?: string;
  stopLossLimit?: string;
  trailPercent?: string;
  trailAmount?: string;
}

export interface BracketInput {
  side: 'buy' | 'sell' | undefined;
  limitPrice?: string;
  stopPrice?: string;
  /** The signal price. */
  price?: string;
  takeProfit?: TakeProfit;
  stopLoss?: StopLoss;
}

/** Prices get the reference price's decimals, at least two (cents; brokers refuse finer ticks than the instrument's). */
const MIN_PLACES = 2;

/**
 * Resolves take-profit and stop-loss distances (percent, amount) to prices from the entry's reference
 * price: its limit price, else its stop price, else the signal price. A take-profit lies above a buy's
 * reference and below a sell's; a stop-loss the other way. The reason when it cannot be resolved.
 */
export function resolveBrackets(input: BracketInput): BracketPrices | { reason: string } {
  const { takeProfit, stopLoss } = input;
  if (!takeProfit && !stopLoss) return {};
  const relative = [takeProfit?.percent, takeProfit?.amount, stopLoss?.percent, stopLoss?.amount].some((v) => v !== undefined);
  const reference = input.limitPrice ?? input.stopPrice ?? input.price;
  if (relative && input.side === undefined) {
    return { reason: 'bracket_side_unknown: a percent or amount take-profit/stop-loss on add needs sentiment long or short (which side it protects)' };
  }
  if (relative && reference === undefined) {
    return {
      reason: "price_required: a percent or amount take-profit/stop-loss needs a reference price (the signal price, or the order's limit or stop price)",
    };
  }
  const up: 1 | -1 = input.side === 'buy' ? 1 : -1;
  const prices: BracketPrices = {};
  if (takeProfit) {
    const price = takeProfit.limitPrice ?? away(reference!, takeProfit, up);
    if (price === undefined) return { reason: 'take_profit_invalid: the take-profit distance reaches below zero' };
    prices.takeProfit = price;
  }
  if (stopLoss?.type === 'trailing_stop') return { ...prices, trailPercent: stopLoss.trailPercent, trailAmount: stopLoss.trailAmount };
  if (stopLoss) {
    const price = stopLoss.stopPrice ?? away(reference!, stopLoss, up === 1 ? -1 : 1);
    if (price === undefined) return { reason: 'stop_loss_invalid: the stop-loss distance reaches below zero' };
    prices.stopLoss = price;
    if (stopLoss.limitPrice !== undefined) prices.stopLossLimit = stopLoss.limitPrice;
  }
  return prices;
}

/** The reference moved by a percent or an amount in `direction` (1 up, -1 down), rounded; undefined at or below zero. */
function away(reference: string, distance: { percent?: string; amount?: string }, direction: 1 | -1): string | undefined {
  const ref = parseDecimal(reference);
  const delta = distance.percent !== undefined ? div(mul(ref, parseDecimal(distance.percent)), HUNDRED) : parseDecimal(distance.amount!);
  const price = round(ref + BigInt(direction) * delta, Math.max(MIN_PLACES, placesOf(reference)));
  return price > ZERO ? formatDecimal(price) : undefined;
}

function placesOf(decimal: string): number {
  const dot = decimal.indexOf('.');
  return dot < 0 ? 0 : decimal.length - dot - 1;
}
