import { z } from 'zod';
import { contractOfTicker, DATE, marketDate, normalizeExpiration, type OptionRule } from '../brokers/option-symbols';
import { looseEnum, positiveDecimal } from './payload-values';

/**
 * The option fields of a signal, named as other routers name them: a selection rule (optionType, expiration,
 * strikePrice or strikesAway with intrinsicValue) that the broker resolves against its listing; a contract named
 * exactly travels as an OCC symbol in `ticker` instead.
 */
export const OPTION_TYPES = ['call', 'put'] as const;
export const INTRINSIC_VALUES = ['itm', 'otm'] as const;
export const OPTION_FIELDS = ['optionType', 'expiration', 'strikePrice', 'strikesAway', 'intrinsicValue'] as const;
/** Fields other routers use for selections Switchyard does not make yet: refused, never ignored. */
export const UNSUPPORTED_OPTION_FIELDS = ['delta'] as const;
export const MAX_STRIKES_AWAY = 50;
/** An underlying as a selection rule names it (letters, digits and a class dot: AAPL, BRK.B), exchange prefix allowed. */
const UNDERLYING = /^(?:[A-Za-z0-9_]{1,20}:)?[A-Za-z][A-Za-z0-9.]{0,9}$/;

const expiration = z.unknown().transform((value, ctx): string => {
  const normalized = typeof value === 'string' ? normalizeExpiration(value) : undefined;
  if (!normalized) {
    ctx.addIssue({ code: 'custom', message: 'must be a date (YYYY-MM-DD) or an offset such as "+30 days", "+2 weeks", "+6 months" (at most 1100 days)' });
    return z.NEVER;
  }
  if (DATE.test(normalized) && normalized < marketDate()) {
    ctx.addIssue({ code: 'custom', message: 'is in the past (US market date)' });
    return z.NEVER;
  }
  return normalized;
});

const strikesAway = z.unknown().transform((value, ctx): number => {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,3}\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_STRIKES_AWAY) {
    ctx.addIssue({ code: 'custom', message: `must be a whole number from 0 (at the money) to ${MAX_STRIKES_AWAY}` });
    return z.NEVER;
  }
  return n;
});

const strikePrice = positiveDecimal.refine(
  (v) => !/\.\d{4,}$/.test(v) && Number(v) < 100_000,
  'must be below 100000 with at most 3 decimals (OCC strike precision)',
);

export const optionFieldSchemas = {
  optionType: looseEnum(OPTION_TYPES).optional(),
  expiration: expiration.optional(),
  strikePrice: strikePrice.optional(),
  strikesAway: strikesAway.optional(),
  intrinsicValue: looseEnum(INTRINSIC_VALUES).optional(),
};

interface OptionFields {
  ticker: string;
  action: string;
  sentiment?: string;
  price?: string;
  optionType?: (typeof OPTION_TYPES)[number];
  expiration?: string;
  strikePrice?: string;
  strikesAway?: number;
  intrinsicValue?: (typeof INTRINSIC_VALUES)[number];
}

/** What makes a signal's option fields mean nothing or two things, as [field, message] (a 422 rather than a guess). */
export function optionProblems(s: OptionFields): [string, string][] {
  const given = OPTION_FIELDS.filter((k) => s[k] !== undefined);
  if (given.length === 0) return [];
  const problems: [string, string][] = [];
  if (contractOfTicker(s.ticker)) problems.push(['ticker', 'names an option contract already: send either the contract or a selection rule (optionType, …)']);
  else if (!UNDERLYING.test(s.ticker)) problems.push(['ticker', "must be the underlying's symbol (e.g. AAPL) with a selection rule"]);
  if (s.optionType === undefined) problems.push(['optionType', 'is required with an option selection rule (call or put)']);
  if (s.expiration === undefined) problems.push(['expiration', 'is required with an option selection rule (a date or an offset such as "+30 days")']);
  if (s.strikePrice !== undefined && (s.strikesAway !== undefined || s.intrinsicValue !== undefined)) {
    problems.push(['strikePrice', 'cannot be combined with strikesAway or intrinsicValue (send one way of choosing the strike)']);
  } else if (s.strikePrice === undefined && s.strikesAway === undefined) {
    problems.push(['strikesAway', 'or strikePrice is required: how the strike is chosen (strikesAway 0 is at the money)']);
  } else if (s.strikesAway !== undefined && s.strikesAway > 0 && s.intrinsicValue === undefined) {
    problems.push(['intrinsicValue', 'is required when strikesAway is above 0 (itm or otm: which way to count)']);
  } else if (s.strikesAway === 0 && s.intrinsicValue !== undefined) {
    problems.push(['intrinsicValue', 'cannot be combined with strikesAway 0 (at the money is neither itm nor otm)']);
  }
  if (s.strikesAway !== undefined && s.price === undefined)
    problems.push(['price', "is required with strikesAway: the underlying's price the strikes are counted from"]);
  // A rule picks a contract to open; closing one needs its name (the position's OCC symbol).
  if (s.action === 'exit' || s.action === 'cancel' || s.action === 'close')
    problems.push(['action', `cannot be ${s.action} with a selection rule: name the contract by its OCC symbol in ticker`]);
  else if (s.sentiment !== undefined)
    problems.push(['sentiment', 'cannot be combined with a selection rule: it opens a contract (close one by its OCC symbol)']);
  return problems;
}

/** The rule of a parsed (or stored) payload, for routing; undefined when the signal names no rule. */
export function optionRuleOf(payload: Record<string, unknown>): OptionRule | undefined {
  const { optionType, expiration: exp, strikePrice: price, strikesAway: away, intrinsicValue } = payload;
  if ((optionType !== 'call' && optionType !== 'put') || typeof exp !== 'string') return undefined;
  if (typeof price === 'string') return { optionType, expiration: exp, strike: { price } };
  if (typeof away !== 'number') return undefined;
  return {
    optionType,
    expiration: exp,
    strike: { strikesAway: away, ...((intrinsicValue === 'itm' || intrinsicValue === 'otm') && away > 0 && { intrinsicValue }) },
  };
}
