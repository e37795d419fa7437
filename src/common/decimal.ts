/** Exact decimal arithmetic for quantities and prices (floats would mis-size orders). */
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
