import { abs, formatDecimal, parseDecimal } from '../common/decimal';

/**
 * Option contracts as routing names them: OCC symbols (`AAPL261218C00150000`: root, YYMMDD, C|P, strike × 1000 in
 * 8 digits) and selection rules (`option:AAPL:call:+30d:otm2@187.5`) that a broker adapter resolves to one contract
 * against the broker's own listing when it sends the order (as futures resolve `ES1!` to the front month).
 */

export type OptionRight = 'call' | 'put';
export type Moneyness = 'itm' | 'otm';

export interface OccContract {
  root: string;
  /** YYYY-MM-DD. */
  expiration: string;
  right: OptionRight;
  /** Canonical decimal string (`150`, `182.5`). */
  strike: string;
}

/** A date, or an offset from today in days, weeks or months (`+30 days` → `+30d`). */
export type OptionExpiration = string;

/** How the strike is chosen: exactly this strike, or the n-th listed strike in or out of the money (0: nearest the price). */
export type StrikeRule = { price: string } | { strikesAway: number; intrinsicValue?: Moneyness };

/** A selection rule as a signal states it (without the underlying, which routing maps first). */
export interface OptionRule {
  optionType: OptionRight;
  expiration: OptionExpiration;
  strike: StrikeRule;
}

/** A selection rule for one underlying; `underlyingPrice` is the signal's price, needed when the strike is counted from it. */
export interface OptionSelection extends OptionRule {
  underlying: string;
  underlyingPrice?: string;
}

// Root: 1-6 letters/digits starting with a letter; the OCC's space-padded 21-character form is accepted too.
const OCC = /^([A-Z][A-Z0-9]{0,5}) *(\d{2})(\d{2})(\d{2})([CP])(\d{8})$/;
export const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const RELATIVE_EXPIRATION = /^\+(\d{1,4})([dwm])$/;
const SELECTION = /^option:([A-Z][A-Z0-9.]{0,9}):(call|put):([^:]+):(atm|itm\d{1,2}|otm\d{1,2}|\d{1,5}(?:\.\d{1,3})?)(?:@(\d{1,20}(?:\.\d{1,18})?))?$/;
/** The furthest a relative expiration may reach: listed equity options (LEAPS) run about three years. */
export const MAX_RELATIVE_DAYS = 1100;
const UNIT_DAYS = { d: 1, w: 7, m: 31 } as const;

/** A real calendar date as YYYY-MM-DD, else undefined. */
export function calendarDate(year: number, month: number, day: number): string | undefined {
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return date.toISOString().slice(0, 10);
}

export function parseOccSymbol(text: string): OccContract | undefined {
  const match = OCC.exec(text.trim().toUpperCase());
  if (!match) return undefined;
  const [, root, yy, mm, dd, right, strike] = match;
  const expiration = calendarDate(2000 + Number(yy), Number(mm), Number(dd));
  if (!expiration || /^0+$/.test(strike)) return undefined;
  return { root, expiration, right: right === 'C' ? 'call' : 'put', strike: formatDecimal(parseDecimal(strike) / 1000n) };
}

export function isOccSymbol(text: string): boolean {
  return parseOccSymbol(text) !== undefined;
}

/** TradingView's option ticker (`OPRA:AAPL261218C150.0`: the strike as a decimal) as a contract. */
const TRADINGVIEW_OPTION = /^(?:OPRA:)?([A-Z][A-Z0-9]{0,5})(\d{2})(\d{2})(\d{2})([CP])(\d{1,5}(?:\.\d{1,3})?)$/;

/** A contract named by a ticker: its OCC symbol, or TradingView's spelling of one (exchange prefix allowed). */
export function contractOfTicker(ticker: string): OccContract | undefined {
  const upper = ticker.trim().toUpperCase();
  const occ = parseOccSymbol(upper.replace(/^[A-Z0-9_]{1,20}:/, ''));
  if (occ) return occ;
  const match = TRADINGVIEW_OPTION.exec(upper);
  if (!match) return undefined;
  const [, root, yy, mm, dd, right, strike] = match;
  const expiration = calendarDate(2000 + Number(yy), Number(mm), Number(dd));
  if (!expiration || parseDecimal(strike) === 0n) return undefined;
  return { root, expiration, right: right === 'C' ? 'call' : 'put', strike: formatDecimal(parseDecimal(strike)) };
}

/** The OCC symbol of a contract; throws when it has no OCC spelling (strike beyond 99999.999 or finer than 0.001). */
export function formatOccSymbol(contract: OccContract): string {
  const thousandths = parseDecimal(contract.strike) * 1000n;
  const scale = parseDecimal('1');
  if (thousandths % scale !== 0n || thousandths <= 0n || thousandths / scale > 99_999_999n) {
    throw new RangeError(`strike ${contract.strike} has no OCC spelling`);
  }
  const date = DATE.exec(contract.expiration);
  if (!date || !/^[A-Z][A-Z0-9]{0,5}$/.test(contract.root)) throw new RangeError('not an OCC root or expiration');
  const strike = (thousandths / scale).toString().padStart(8, '0');
  return `${contract.root}${date[1].slice(2)}${date[2]}${date[3]}${contract.right === 'call' ? 'C' : 'P'}${strike}`;
}

/** `+30 days`, `+2 weeks`, `+6 months` (also `+30d`), or a date, to the stored form; undefined when neither or out of range. */
export function normalizeExpiration(text: string): OptionExpiration | undefined {
  const trimmed = text.trim().toLowerCase();
  const date = DATE.exec(trimmed);
  if (date) return calendarDate(Number(date[1]), Number(date[2]), Number(date[3]));
  const relative = /^\+\s*(\d{1,4})\s*(d|days?|w|weeks?|m|months?)$/.exec(trimmed);
  if (!relative) return undefined;
  const unit = relative[2][0] as keyof typeof UNIT_DAYS;
  const count = Number(relative[1]);
  return count * UNIT_DAYS[unit] <= MAX_RELATIVE_DAYS ? `+${count}${unit}` : undefined;
}

/** The earliest expiration a rule accepts: its date, or today plus its offset (months by the calendar, clamped to the month's end). */
export function expirationTarget(expiration: OptionExpiration, today: string): string {
  if (DATE.test(expiration)) return expiration;
  const match = RELATIVE_EXPIRATION.exec(expiration);
  const start = DATE.exec(today);
  if (!match || !start) throw new RangeError(`not an expiration: ${expiration}`);
  const [year, month, day] = [Number(start[1]), Number(start[2]), Number(start[3])];
  const count = Number(match[1]);
  if (match[2] === 'm') {
    const last = new Date(Date.UTC(year, month - 1 + count + 1, 0)).getUTCDate();
    return new Date(Date.UTC(year, month - 1 + count, Math.min(day, last))).toISOString().slice(0, 10);
  }
  return addDays(today, count * (match[2] === 'w' ? 7 : 1));
}

/** A YYYY-MM-DD date `days` calendar days later. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function formatOptionSelection(selection: OptionSelection): string {
  const { strike } = selection;
  const rule = 'price' in strike ? strike.price : strike.strikesAway === 0 ? 'atm' : `${strike.intrinsicValue}${strike.strikesAway}`;
  const price = 'price' in strike || selection.underlyingPrice === undefined ? '' : `@${selection.underlyingPrice}`;
  return `option:${selection.underlying}:${selection.optionType}:${selection.expiration}:${rule}${price}`;
}

export function parseOptionSelection(symbol: string): OptionSelection | undefined {
  const match = SELECTION.exec(symbol);
  if (!match) return undefined;
  const [, underlying, optionType, expiration, rule, underlyingPrice] = match;
  if (!DATE.test(expiration) && !RELATIVE_EXPIRATION.test(expiration)) return undefined;
  const away = /^(itm|otm)(\d+)$/.exec(rule);
  const strike: StrikeRule =
    rule === 'atm' ? { strikesAway: 0 } : away ? { strikesAway: Number(away[2]), intrinsicValue: away[1] as Moneyness } : { price: rule };
  if ('strikesAway' in strike && underlyingPrice === undefined) return undefined;
  return { underlying, optionType: optionType as OptionRight, expiration, strike, ...(underlyingPrice !== undefined && { underlyingPrice }) };
}

/** A listed contract as selection needs it. */
export interface ListedContract {
  symbol: string;
  expiration: string;
  strike: string;
}

/**
 * The contract a rule picks among one expiration's listed strikes of its type: the exact strike; the strike nearest
 * the underlying's price (strikesAway 0; a tie takes the lower strike); or the n-th strike strictly in or out of the
 * money, counted from the price outwards. Undefined when the listing has no such strike.
 */
export function pickStrike(contracts: ListedContract[], selection: OptionSelection): ListedContract | undefined {
  const { strike } = selection;
  if ('price' in strike) return contracts.find((c) => parseDecimal(c.strike) === parseDecimal(strike.price));
  const price = parseDecimal(selection.underlyingPrice!);
  const sorted = [...contracts].sort((a, b) => Number(parseDecimal(a.strike) - parseDecimal(b.strike)));
  if (strike.strikesAway === 0) {
    let best: ListedContract | undefined;
    for (const c of sorted) {
      const gap = abs(parseDecimal(c.strike) - price);
      if (!best || gap < abs(parseDecimal(best.strike) - price)) best = c;
    }
    return best;
  }
  // A call is in the money below the price, a put above it.
  const above = (selection.optionType === 'call') === (strike.intrinsicValue === 'otm');
  const side = above ? sorted.filter((c) => parseDecimal(c.strike) > price) : sorted.filter((c) => parseDecimal(c.strike) < price).reverse();
  return side[strike.strikesAway - 1];
}

/** Today's date in New York, where US listed options expire. */
export function marketDate(now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}
