/**
 * Exact decimals for quantities and prices (floats would mis-size orders): scaled bigints at 12 places for sizing and
 * limits, and decimal strings at their own precision for what brokers send and receive.
 */
const SCALE = 12n;
const ONE = 10n ** SCALE;

export function parseDecimal(value: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) throw new RangeError(`not a decimal: ${value}`);
  const fraction = (match[3] ?? '').slice(0, Number(SCALE)).padEnd(Number(SCALE), '0');
  const scaled = BigInt(match[2]) * ONE + BigInt(fraction);
  return match[1] ? -scaled : scaled;
}

export function formatDecimal(scaled: bigint): string {
  const negative = scaled < 0n;
  const abs = negative ? -scaled : scaled;
  const whole = abs / ONE;
  const fraction = (abs % ONE).toString().padStart(Number(SCALE), '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

export function mul(a: bigint, b: bigint): bigint {
  return (a * b) / ONE;
}

export function div(a: bigint, b: bigint): bigint {
  return (a * ONE) / b;
}

/** Rounds towards zero to `places` decimals: never size an order larger than asked. */
export function truncate(value: bigint, places: number): bigint {
  const step = 10n ** (SCALE - BigInt(places));
  return (value / step) * step;
}

/** Rounds half away from zero to `places` decimals (prices; quantities truncate). */
export function round(value: bigint, places: number): bigint {
  if (BigInt(places) >= SCALE) return value;
  const step = 10n ** (SCALE - BigInt(places));
  const half = value < 0n ? -(step / 2n) : step / 2n;
  return ((value + half) / step) * step;
}

export const ZERO = 0n;

export function abs(value: bigint): bigint {
  return value < ZERO ? -value : value;
}
export const HUNDRED = 100n * ONE;

const UNSIGNED_DECIMAL = /^\d+(\.\d+)?$/;
const SIGNED_DECIMAL = /^-?\d+(\.\d+)?$/;

export function isDecimal(value: string): boolean {
  return UNSIGNED_DECIMAL.test(value);
}

export function isPositiveDecimal(value: string): boolean {
  return UNSIGNED_DECIMAL.test(value) && /[1-9]/.test(value);
}

export function isSignedDecimal(value: string): boolean {
  return SIGNED_DECIMAL.test(value);
}

export function addDecimals(a: string, b: string): string {
  const x = toScaled(a);
  const y = toScaled(b);
  const scale = Math.max(x.scale, y.scale);
  return fromScaled(x.units * 10n ** BigInt(scale - x.scale) + y.units * 10n ** BigInt(scale - y.scale), scale);
}

export function negateDecimal(value: string): string {
  const x = toScaled(value);
  return fromScaled(-x.units, x.scale);
}

export function absDecimal(value: string): string {
  const x = toScaled(value);
  return fromScaled(x.units < 0n ? -x.units : x.units, x.scale);
}

/** Exact decimal arithmetic on strings: floats would turn 0.3 units into 0.30000000000000004. */
function toScaled(value: string): { units: bigint; scale: number } {
  if (!SIGNED_DECIMAL.test(value)) throw new RangeError(`not a decimal string: ${value.slice(0, 40)}`);
  const negative = value.startsWith('-');
  const [int, frac = ''] = (negative ? value.slice(1) : value).split('.');
  const units = BigInt(int + frac);
  return { units: negative ? -units : units, scale: frac.length };
}

function fromScaled(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale).replace(/0+$/, '');
  const text = frac ? `${int}.${frac}` : int;
  return negative && text !== '0' ? `-${text}` : text;
}
