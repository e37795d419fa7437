import type { BrokerName } from '../brokers/broker-adapter';
import { BROKER_PROFILES } from '../brokers/broker-profiles';
import { brokerSymbol, isContinuousFuture, withoutExchange } from '../brokers/broker-symbols';
import { formatOptionSelection, isOccSymbol, type OptionRule, parseOptionSelection } from '../brokers/option-symbols';
import type { StopLoss, TakeProfit } from '../signals/signal-brackets';
import { BracketPrices, resolveBrackets } from './bracket-prices';
import { div, formatDecimal, HUNDRED, mul, parseDecimal, truncate, ZERO } from '../common/decimal';
import { LimitSources, limitWords } from './risk/limit-source';

/** The fields of a parsed signal that routing acts on. */
export interface RoutableSignal {
  id: string;
  seq: string;
  ticker: string;
  action: 'buy' | 'sell' | 'exit' | 'cancel' | 'add';
  /** The position the sender wants afterwards; absent: the action alone decides (an entry is sent as is). */
  sentiment?: 'long' | 'short' | 'flat';
  quantity?: string;
  orderType: 'market' | 'limit' | 'stop' | 'stop_limit';
  limitPrice?: string;
  stopPrice?: string;
  price?: string;
  timeInForce?: 'gtc' | 'day' | 'ioc' | 'fok';
  takeProfit?: TakeProfit;
  stopLoss?: StopLoss;
  /** An option selection rule: the order is for the contract the broker's listing yields for the ticker (the underlying). */
  option?: OptionRule;
}

export interface RouteRules {
  id: string;
  connectionId: string;
  sizingMode: 'fixed' | 'multiplier' | 'notional' | 'percent_equity';
  sizingValue: string;
  symbolMap: Record<string, string>;
  allowedSymbols: string[] | null;
  maxQuantity: string | null;
  maxNotional: string | null;
  maxOrdersPerMinute: number | null;
  /** Where each limit came from (route, workspace default or ceiling), for the block reasons; unset: all the route's own. */
  limitSources?: LimitSources;
  /** Directions the route opens positions in; a signal that would open the other one only closes. */
  positionMode: 'both' | 'long_only' | 'short_only';
  /** An entry while a position in its direction is already open: `add` to it, or `ignore` the signal. */
  entryWhenOpen: 'add' | 'ignore';
}

/**
 * What the order needs of the position at the broker, checked by the worker right before sending (only the
 * worker reads positions: it holds the credentials). Exits: `if_any` — nothing to close is skipped, not
 * blocked (the close leg of a reversal); `reduce` — close at most the order's quantity. Entries:
 * `unless_open` — blocked when a position in its direction is open; `if_open` — blocked unless one is (add).
 */
export type PositionRule = 'if_any' | 'reduce' | 'unless_open' | 'if_open';

export interface OrderPlan extends BracketPrices {
  intent: 'entry' | 'exit' | 'cancel';
  symbol: string;
  /** Exits: `sell` closes a long, `buy` a short, unset either. Entries: unset only for `add` (the open position decides). */
  side?: 'buy' | 'sell';
  positionRule?: PositionRule;
  type: RoutableSignal['orderType'];
  /** Unset for exits (the position decides) and percent_equity (the account's equity decides). */
  quantity?: string;
  limitPrice?: string;
  stopPrice?: string;
  timeInForce?: RoutableSignal['timeInForce'];
  referencePrice?: string;
}

/** `limit` names the route limit that blocked the leg (audited as `order.blocked`). */
export type PlanResult = { ok: true; plan: OrderPlan } | { ok: false; symbol: string; reason: string; limit?: 'maxQuantity' | 'maxNotional' };

/** Quantities are sized to 8 decimals, rounded down: within every broker's precision, never larger than asked. */
const QUANTITY_PLACES = 8;

/**
 * Turns a signal into the orders for one route, in the order they must execute (legs): symbol mapping,
 * allowed symbols, what the action and sentiment mean, sizing, limits. Most signals are one leg; a
 * reversal (`sell` with sentiment `short`, `buy` with `long`) is two: close the opposite position (skipped
 * when there is none), then open. Anything blocked is one leg carrying the reason.
 */
export function planOrders(signal: RoutableSignal, route: RouteRules, broker: BrokerName): PlanResult[] {
  const resolved = resolveSymbol(signal.ticker, route, broker);
  if ('reason' in resolved) return [{ ok: false, symbol: signal.ticker, reason: resolved.reason }];
  if (route.allowedSymbols && ![resolved.symbol, signal.ticker, withoutExchange(signal.ticker)].some((s) => route.allowedSymbols!.includes(s))) {
    return [{ ok: false, symbol: resolved.symbol, reason: `symbol_not_allowed: ${resolved.symbol} is not in this route's allowed symbols` }];
  }
  const option = optionSymbol(signal, resolved.symbol, broker);
  if (option && 'reason' in option) return [{ ok: false, symbol: resolved.symbol, reason: option.reason }];
  const symbol = option?.symbol ?? resolved.symbol;
  // Options trade in whole contracts.
  const places = option ? 0 : QUANTITY_PLACES;
  const referencePrice = signal.price ?? signal.limitPrice;
  const exit = (side?: 'buy' | 'sell', positionRule?: PositionRule): OrderPlan => ({
    intent: 'exit',
    symbol,
    side,
    positionRule,
    type: 'market',
    referencePrice,
  });
  const open = (side: 'buy' | 'sell') =>
    entry(signal, route, symbol, referencePrice, side, places, route.entryWhenOpen === 'ignore' ? 'unless_open' : undefined);
  if (signal.action === 'cancel') return [{ ok: true, plan: { intent: 'cancel', symbol, type: 'market', referencePrice } }];
  if (signal.action === 'exit') return [{ ok: true, plan: exit() }];
  const allowed = ALLOWED_SIDE[route.positionMode];
  if (signal.action === 'add') {
    const wanted = signal.sentiment === 'long' ? 'buy' : signal.sentiment === 'short' ? 'sell' : allowed;
    if (allowed && wanted !== allowed) return [{ ok: false, symbol, reason: modeReason(route.positionMode as 'long_only' | 'short_only') }];
    return [entry(signal, route, symbol, referencePrice, wanted, places, 'if_open')];
  }
  const side = signal.action;
  // `buy` closes a short and `sell` a long: the side of the closing order.
  if (signal.sentiment === 'flat') return [{ ok: true, plan: exit(side) }];
  const opening = side === 'buy' ? 'long' : 'short';
  if (signal.sentiment && signal.sentiment !== opening) {
    // sell while the sender stays long (or buy while short): a partial close, never an entry.
    const sized = entry(signal, route, symbol, referencePrice, side, places);
    return [sized.ok ? { ok: true, plan: { ...exit(side, 'reduce'), quantity: sized.plan.quantity } } : sized];
  }
  // A route that opens no positions on this side only closes the other one (blocked when none is open).
  if (allowed && side !== allowed) return [{ ok: true, plan: exit(side) }];
  if (signal.sentiment === opening) return [{ ok: true, plan: exit(side, 'if_any') }, open(side)];
  return [open(side)];
}

/**
 * The broker symbol of a ticker: the route's symbol map first (the ticker as sent, then without its
 * exchange prefix; own keys only, so `constructor` never reads Object.prototype), else the broker's
 * own spelling of it (docs/signals.md, per broker).
 */
function resolveSymbol(ticker: string, route: RouteRules, broker: BrokerName): { symbol: string } | { reason: string } {
  const key = [ticker, withoutExchange(ticker)].find((k) => Object.hasOwn(route.symbolMap, k));
  if (key !== undefined) return { symbol: route.symbolMap[key] };
  const symbol = brokerSymbol(broker, ticker);
  if (symbol) return { symbol };
  if (isContinuousFuture(ticker)) {
    return {
      reason: `symbol_unmapped: ${ticker} is TradingView's continuous futures notation and ${broker} trades no futures; map it to an instrument in the route's symbolMap`,
    };
  }
  return { reason: `symbol_unmapped: ${broker} has no symbol like ${ticker}; map it to one in the route's symbolMap` };
}

/**
 * The symbol of an option order: an OCC symbol as it is, or the signal's selection rule on the mapped underlying
 * (the adapter resolves it against the broker's listing); undefined for anything else.
 */
function optionSymbol(signal: RoutableSignal, symbol: string, broker: BrokerName): { symbol: string } | { reason: string } | undefined {
  const named = isOccSymbol(symbol);
  if (!named && !signal.option) return undefined;
  if (!BROKER_PROFILES[broker].options) return { reason: `options_unsupported: ${broker} takes no option orders through Switchyard` };
  if (named || !signal.option) return { symbol };
  const counted = 'strikesAway' in signal.option.strike;
  const selection = formatOptionSelection({ underlying: symbol, ...signal.option, ...(counted && { underlyingPrice: signal.price }) });
  if (!parseOptionSelection(selection)) return { reason: `option_underlying: ${symbol} is not an underlying an option selection rule can name` };
  return { symbol: selection };
}

/** The only side a one-directional route opens positions on. */
const ALLOWED_SIDE = { both: undefined, long_only: 'buy', short_only: 'sell' } as const;

function modeReason(mode: 'long_only' | 'short_only'): string {
  const direction = mode === 'long_only' ? 'long' : 'short';
  return `position_mode: this route is ${direction}-only; it opens and adds to ${direction} positions only`;
}

function entry(
  signal: RoutableSignal,
  route: RouteRules,
  symbol: string,
  referencePrice: string | undefined,
  side: 'buy' | 'sell' | undefined,
  places: number,
  positionRule?: PositionRule,
): PlanResult {
  const brackets = resolveBrackets({ ...signal, side });
  if ('reason' in brackets) return { ok: false, symbol, reason: brackets.reason };
  const base: OrderPlan = {
    intent: 'entry',
    symbol,
    side,
    positionRule,
    type: signal.orderType,
    limitPrice: signal.limitPrice,
    stopPrice: signal.stopPrice,
    timeInForce: signal.timeInForce,
    ...brackets,
    referencePrice,
  };
  if (places === 0 && (route.sizingMode === 'notional' || route.sizingMode === 'percent_equity')) {
    return {
      ok: false,
      symbol,
      reason: `option_sizing: options are sized in whole contracts; ${route.sizingMode} sizing would divide by the underlying's price`,
    };
  }
  if (route.sizingMode === 'percent_equity') return { ok: true, plan: base };
  const sized = sizeQuantity(signal, route, places);
  if ('reason' in sized) return { ok: false, symbol, reason: sized.reason };
  const limited = checkLimits(sized.quantity, referencePrice, route);
  if (limited) return { ok: false, symbol, ...limited };
  return { ok: true, plan: { ...base, quantity: sized.quantity } };
}

/** percent_equity: equity × value% ÷ price, then the same limits as every other mode. */
export function sizeFromEquity(
  plan: OrderPlan,
  route: RouteRules,
  equity: string,
): { quantity: string } | { reason: string; limit?: 'maxQuantity' | 'maxNotional' } {
  if (!plan.referencePrice) return { reason: 'price_required: percent_equity sizing needs the signal price' };
  const amount = div(mul(parseDecimal(equity), parseDecimal(route.sizingValue)), HUNDRED);
  const quantity = truncate(div(amount, parseDecimal(plan.referencePrice)), QUANTITY_PLACES);
  if (quantity <= ZERO) return { reason: 'quantity_zero: sizing produced no quantity' };
  return checkLimits(formatDecimal(quantity), plan.referencePrice, route) ?? { quantity: formatDecimal(quantity) };
}

function sizeQuantity(signal: RoutableSignal, route: RouteRules, places: number): { quantity: string } | { reason: string } {
  const value = parseDecimal(route.sizingValue);
  let quantity: bigint;
  switch (route.sizingMode) {
    case 'fixed':
      quantity = value;
      break;
    case 'multiplier':
      if (!signal.quantity) return { reason: 'quantity_required: multiplier sizing needs the signal quantity' };
      quantity = mul(parseDecimal(signal.quantity), value);
      break;
    case 'notional': {
      const price = signal.price ?? signal.limitPrice;
      if (!price) return { reason: 'price_required: notional sizing needs the signal price' };
      quantity = div(value, parseDecimal(price));
      break;
    }
    default:
      return { reason: `unsupported sizing mode ${route.sizingMode}` };
  }
  quantity = truncate(quantity, places);
  if (quantity <= ZERO)
    return { reason: places === 0 ? 'quantity_zero: sizing produced less than one contract' : 'quantity_zero: sizing produced no quantity' };
  return { quantity: formatDecimal(quantity) };
}

/** The reason names where the limit came from: the route, or its workspace's default or ceiling. */
function checkLimits(quantity: string, price: string | undefined, route: RouteRules): { reason: string; limit: 'maxQuantity' | 'maxNotional' } | undefined {
  const q = parseDecimal(quantity);
  if (route.maxQuantity && q > parseDecimal(route.maxQuantity)) {
    const limit = limitWords(route.limitSources, 'maxQuantity', route.maxQuantity);
    return { reason: `max_quantity_exceeded: ${quantity} is above ${limit}`, limit: 'maxQuantity' };
  }
  if (route.maxNotional) {
    const limit = limitWords(route.limitSources, 'maxNotional', route.maxNotional);
    if (!price) return { reason: `price_required: the signal has no price and ${limit} on notional needs one`, limit: 'maxNotional' };
    const notional = mul(q, parseDecimal(price));
    if (notional > parseDecimal(route.maxNotional)) {
      return { reason: `max_notional_exceeded: ${formatDecimal(notional)} is above ${limit}`, limit: 'maxNotional' };
    }
  }
  return undefined;
}
