import { z } from 'zod';

const DECIMAL = /^(\d{1,20})(?:\.(\d{1,18}))?$/;
const DECIMAL_MESSAGE = 'must be a positive decimal number with at most 20 integer and 18 fraction digits (e.g. 10 or "0.5")';

/**
 * A positive decimal, as a canonical string (brokers take exact decimals). TradingView placeholders
 * such as {{strategy.order.contracts}} arrive as strings ("10", "0.5"), so numeric strings are accepted.
 */
export const positiveDecimal = z.unknown().transform((value, ctx): string => {
  const text =
    typeof value === 'number' && Number.isFinite(value)
      ? value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 })
      : typeof value === 'string'
        ? value.trim()
        : undefined;
  const match = text === undefined ? null : DECIMAL.exec(text);
  const canonical = match ? `${match[1].replace(/^0+(?=\d)/, '')}${match[2] && /[1-9]/.test(match[2]) ? `.${match[2].replace(/0+$/, '')}` : ''}` : '';
  if (!match || !/[1-9]/.test(canonical)) {
    ctx.addIssue({ code: 'custom', message: DECIMAL_MESSAGE });
    return z.NEVER;
  }
  return canonical;
});

/** Case-insensitive enum: placeholders like {{strategy.order.action}} produce "buy", users type "BUY". */
export function looseEnum<T extends readonly [string, ...string[]]>(values: T) {
  return z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(values, { error: `must be one of: ${values.join(', ')}` }));
}
