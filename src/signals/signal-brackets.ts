import { z } from 'zod';
import { looseEnum, positiveDecimal } from './payload-values';

/** A take-profit: the limit price itself, or a distance from the entry's reference price (percent or amount). */
export interface TakeProfit {
  limitPrice?: string;
  percent?: string;
  amount?: string;
}

export const STOP_LOSS_TYPES = ['stop', 'stop_limit', 'trailing_stop'] as const;

/** A stop-loss: its stop price (absolute, or a distance as for take-profits), a limit for stop_limit, or a trail. */
export interface StopLoss {
  type: (typeof STOP_LOSS_TYPES)[number];
  stopPrice?: string;
  percent?: string;
  amount?: string;
  limitPrice?: string;
  trailPercent?: string;
  trailAmount?: string;
}

const DISTANCES = ['percent', 'amount'] as const;
const below100 = positiveDecimal.refine((v) => Number(v) < 100, 'must be below 100 (percent of the reference price)');

const takeProfitObject = z
  .strictObject({ limitPrice: positiveDecimal.optional(), percent: positiveDecimal.optional(), amount: positiveDecimal.optional() })
  .refine(
    (t) => ['limitPrice', ...DISTANCES].filter((k) => t[k as keyof typeof t] !== undefined).length === 1,
    'must hold exactly one of limitPrice, percent, amount',
  );

const stopLossObject = z
  .strictObject({
    type: looseEnum(STOP_LOSS_TYPES).default('stop'),
    stopPrice: positiveDecimal.optional(),
    percent: below100.optional(),
    amount: positiveDecimal.optional(),
    limitPrice: positiveDecimal.optional(),
    trailPercent: below100.optional(),
    trailAmount: positiveDecimal.optional(),
  })
  .transform((s, ctx): StopLoss => {
    const problem = stopLossProblem(s);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as unknown as StopLoss;
  });

function stopLossProblem(s: Omit<StopLoss, 'type'> & { type: StopLoss['type'] }): string | undefined {
  const stops = ['stopPrice', ...DISTANCES].filter((k) => s[k as keyof StopLoss] !== undefined).length;
  const trails = [s.trailPercent, s.trailAmount].filter((v) => v !== undefined).length;
  if (s.type === 'trailing_stop') {
    if (stops > 0 || s.limitPrice !== undefined) return 'a trailing_stop takes trailPercent or trailAmount only';
    return trails === 1 ? undefined : 'a trailing_stop needs exactly one of trailPercent, trailAmount';
  }
  if (trails > 0) return 'trailPercent and trailAmount need type trailing_stop';
  if (stops !== 1) return `a ${s.type} needs exactly one of stopPrice, percent, amount`;
  if (s.type === 'stop_limit' && s.limitPrice === undefined) return 'a stop_limit needs limitPrice';
  if (s.type === 'stop' && s.limitPrice !== undefined) return 'limitPrice needs type stop_limit';
  return undefined;
}

/**
 * A bracket leg as senders write it: a bare price (what other routers take) or an object. The object's own
 * problems keep their inner path (`takeProfit.percent`); anything else gets one precise message.
 */
function bracketField<T>(object: z.ZodType<T>, fromPrice: (price: string) => T, expected: string) {
  return z.unknown().transform((value, ctx): T => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const parsed = object.safeParse(value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return z.NEVER;
    }
    const price = positiveDecimal.safeParse(value);
    if (price.success) return fromPrice(price.data);
    ctx.addIssue({ code: 'custom', message: `must be a price (a positive decimal) or ${expected}` });
    return z.NEVER;
  });
}

export const takeProfitField = bracketField<TakeProfit>(
  takeProfitObject,
  (limitPrice) => ({ limitPrice }),
  'an object with one of limitPrice, percent, amount',
);
export const stopLossField = bracketField<StopLoss>(
  stopLossObject,
  (stopPrice) => ({ type: 'stop', stopPrice }),
  'an object {type: stop | stop_limit | trailing_stop, stopPrice | percent | amount, limitPrice, trailPercent | trailAmount}',
);
