import { z } from 'zod';
import type { OrderRequest } from '../broker-adapter';
import { BrokerError } from '../broker-error';
import { addDays, expirationTarget, type ListedContract, type OptionSelection, pickStrike } from '../option-symbols';
import { isSignedDecimal } from '../../common/decimal';

const BROKER = 'alpaca';
/** How far past a relative expiration's target the listing is searched: a monthly-only chain still has one in range. */
export const EXPIRATION_WINDOW_DAYS = 45;
/** Contracts per page (Alpaca's maximum is 10000) and the pages one resolution may read. */
export const CONTRACTS_PAGE_SIZE = 1000;
export const MAX_CONTRACT_PAGES = 10;

/** `GET /v2/options/contracts`: one contract, only the fields selection reads. */
const optionContractSchema = z.object({
  symbol: z.string().min(1),
  status: z.string(),
  tradable: z.boolean(),
  expiration_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  underlying_symbol: z.string(),
  type: z.enum(['call', 'put']),
  strike_price: z.string().refine(isSignedDecimal),
});

export const optionContractsPageSchema = z.object({
  option_contracts: z.array(optionContractSchema).nullable(),
  next_page_token: z.string().nullish(),
});
export type OptionContractsPage = z.infer<typeof optionContractsPageSchema>;

/** The listing query for a rule: its underlying and type, its expiration (or a window from the target), its exact strike. */
export function contractsQuery(selection: OptionSelection, today: string): URLSearchParams {
  const target = expirationTarget(selection.expiration, today);
  const query = new URLSearchParams({
    underlying_symbols: selection.underlying,
    type: selection.optionType,
    status: 'active',
    limit: String(CONTRACTS_PAGE_SIZE),
  });
  if (target === selection.expiration) query.set('expiration_date', target);
  else {
    query.set('expiration_date_gte', target);
    // Alpaca lists only up to the next weekend when no upper bound is given.
    query.set('expiration_date_lte', addDays(target, EXPIRATION_WINDOW_DAYS));
  }
  if ('price' in selection.strike) {
    query.set('strike_price_gte', selection.strike.price);
    query.set('strike_price_lte', selection.strike.price);
  }
  return query;
}

/** The contract a rule picks from what the listing returned: the earliest expiration, then the strike rule; tradable contracts only. */
export function selectContract(contracts: z.infer<typeof optionContractSchema>[], selection: OptionSelection): ListedContract | undefined {
  const usable = contracts.filter((c) => c.tradable && c.status === 'active' && c.type === selection.optionType);
  const earliest = usable.reduce<string | undefined>((min, c) => (min === undefined || c.expiration_date < min ? c.expiration_date : min), undefined);
  const chain = usable.filter((c) => c.expiration_date === earliest).map((c) => ({ symbol: c.symbol, expiration: c.expiration_date, strike: c.strike_price }));
  return pickStrike(chain, selection);
}

/** What "no contract" means for a rule, in words a user can act on. */
export function noContractReason(selection: OptionSelection, today: string): string {
  const target = expirationTarget(selection.expiration, today);
  const when = target === selection.expiration ? `expiring on ${target}` : `expiring from ${target} to ${addDays(target, EXPIRATION_WINDOW_DAYS)}`;
  const strike =
    'price' in selection.strike
      ? `with strike ${selection.strike.price}`
      : selection.strike.strikesAway === 0
        ? `near ${selection.underlyingPrice}`
        : `${selection.strike.strikesAway} strike(s) ${selection.strike.intrinsicValue} from ${selection.underlyingPrice}`;
  return `option_not_found: Alpaca lists no tradable ${selection.underlying} ${selection.optionType} ${when} ${strike}`;
}

/**
 * The `POST /v2/orders` body for an option contract: Alpaca takes option orders in whole contracts, as day orders,
 * without order classes (no brackets) and without extended hours. Anything else is refused here, before sending.
 */
export function alpacaOptionOrderBody(order: OrderRequest, contract: string): Record<string, unknown> {
  const refuse = (why: string) => new BrokerError('unsupported_order_type', BROKER, `Alpaca option orders ${why}`);
  if (order.takeProfit !== undefined || order.stopLoss !== undefined || order.trailPercent !== undefined || order.trailAmount !== undefined) {
    throw refuse('take no take-profit or stop-loss legs (no bracket, oto or trailing stops for options)');
  }
  if (order.timeInForce !== undefined && order.timeInForce !== 'day') throw refuse(`are day orders only, not ${order.timeInForce}`);
  if (!/^[1-9]\d*$/.test(order.quantity)) throw refuse(`are for whole contracts, not ${order.quantity}`);
  const body: Record<string, unknown> = {
    symbol: contract,
    qty: order.quantity,
    side: order.side,
    type: order.type,
    time_in_force: 'day',
    client_order_id: order.clientOrderId,
  };
  if (order.type === 'limit' || order.type === 'stop_limit') body.limit_price = order.limitPrice;
  if (order.type === 'stop' || order.type === 'stop_limit') body.stop_price = order.stopPrice;
  return body;
}

/**
 * Why the account's options level cannot take the order, or undefined (https://docs.alpaca.markets/docs/options-trading):
 * level 0 trades no options; level 1 sells covered calls and cash-secured puts (and buys back what it sold);
 * level 2 also buys calls and puts. Alpaca itself checks coverage and options buying power.
 */
export function optionsLevelRefusal(level: number | undefined, side: 'buy' | 'sell', closesShort: boolean): string | undefined {
  if (level === undefined) return 'options_level: Alpaca reports no options trading level for this account: options trading is not enabled there';
  if (level < 1) return 'options_level: the Alpaca account has options trading level 0 (disabled): enable options trading in the Alpaca dashboard';
  if (side === 'buy' && level < 2 && !closesShort) {
    return `options_level: buying a call or put needs options trading level 2 at Alpaca; this account has level ${level} (covered calls and cash-secured puts)`;
  }
  return undefined;
}
