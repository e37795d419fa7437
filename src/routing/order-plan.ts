import { div, formatDecimal, HUNDRED, mul, parseDecimal, truncate, ZERO } from './decimal';

/** The fields of a parsed signal that routing acts on. */
export interface RoutableSignal {
  id: string;
  seq: string;
  ticker: string;
  action: 'buy' | 'sell' | 'exit' | 'cancel';
  quantity?: string;
  orderType: 'market' | 'limit' | 'stop' | 'stop_limit';
  limitPrice?: string;
  stopPrice?: string;
  price?: string;
  timeInForce?: 'gtc' | 'day' | 'ioc' | 'fok';
  takeProfit?: string;
  stopLoss?: string;
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
}

export interface OrderPlan {
  intent: 'entry' | 'exit' | 'cancel';
  symbol: string;
  side?: 'buy' | 'sell';
  type: RoutableSignal['orderType'];
  /** Unset for exits (the position decides) and percent_equity (the account's equity decides). */
  quantity?: string;
  limitPrice?: string;
  stopPrice?: string;
  timeInForce?: RoutableSignal['timeInForce'];
  takeProfit?: string;
  stopLoss?: string;
  referencePrice?: string;
}

export type PlanResult = { ok: true; plan: OrderPlan } | { ok: false; symbol: string; reason: string };

/** Quantities are sized to 8 decimals, rounded down: within every broker's precision, never larger than asked. */
const QUANTITY_PLACES = 8;

/** Turns a signal into the order for one route: symbol mapping, allowed symbols, sizing, limits. */
export function planOrder(signal: RoutableSignal, route: RouteRules): PlanResult {
  const symbol = route.symbolMap[signal.ticker] ?? signal.ticker;
  if (route.allowedSymbols && !route.allowedSymbols.includes(symbol) && !route.allowedSymbols.includes(signal.ticker)) {
    return { ok: false, symbol, reason: `symbol_not_allowed: ${symbol} is not in this route's allowed symbols` };
  }
  const referencePrice = signal.price ?? signal.limitPrice;
  if (signal.action === 'exit' || signal.action === 'cancel') {
    return { ok: true, plan: { intent: signal.action, symbol, type: 'market', referencePrice } };
  }
  const base: OrderPlan = {
    intent: 'entry',
    symbol,
    side: signal.action,
    type: signal.orderType,
    limitPrice: signal.limitPrice,
    stopPrice: signal.stopPrice,
    timeInForce: signal.timeInForce,
    takeProfit: signal.takeProfit,
    stopLoss: signal.stopLoss,
    referencePrice,
  };
  if (route.sizingMode === 'percent_equity') return { ok: true, plan: base };
  const sized = sizeQuantity(signal, route);
  if ('reason' in sized) return { ok: false, symbol, reason: sized.reason };
  const limited = checkLimits(sized.quantity, referencePrice, route);
  if (limited) return { ok: false, symbol, reason: limited };
  return { ok: true, plan: { ...base, quantity: sized.quantity } };
}

/** percent_equity: equity × value% ÷ price, then the same limits as every other mode. */
export function sizeFromEquity(plan: OrderPlan, route: RouteRules, equity: string): { quantity: string } | { reason: string } {
  if (!plan.referencePrice) return { reason: 'price_required: percent_equity sizing needs the signal price' };
  const amount = div(mul(parseDecimal(equity), parseDecimal(route.sizingValue)), HUNDRED);
  const quantity = truncate(div(amount, parseDecimal(plan.referencePrice)), QUANTITY_PLACES);
  if (quantity <= ZERO) return { reason: 'quantity_zero: sizing produced no quantity' };
  const limited = checkLimits(formatDecimal(quantity), plan.referencePrice, route);
  return limited ? { reason: limited } : { quantity: formatDecimal(quantity) };
}

function sizeQuantity(signal: RoutableSignal, route: RouteRules): { quantity: string } | { reason: string } {
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
  quantity = truncate(quantity, QUANTITY_PLACES);
  if (quantity <= ZERO) return { reason: 'quantity_zero: sizing produced no quantity' };
  return { quantity: formatDecimal(quantity) };
}

function checkLimits(quantity: string, price: string | undefined, route: RouteRules): string | undefined {
  const q = parseDecimal(quantity);
  if (route.maxQuantity && q > parseDecimal(route.maxQuantity)) {
    return `max_quantity_exceeded: ${quantity} is above the route's limit of ${route.maxQuantity}`;
  }
  if (route.maxNotional) {
    if (!price) return 'price_required: the route has a notional limit and the signal has no price';
    const notional = mul(q, parseDecimal(price));
    if (notional > parseDecimal(route.maxNotional)) {
      return `max_notional_exceeded: ${formatDecimal(notional)} is above the route's limit of ${route.maxNotional}`;
    }
  }
  return undefined;
}
