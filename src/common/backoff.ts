/**
 * Exponential backoff with equal jitter: `baseMs · 2^exponent`, capped at `maxMs`, halved, plus up to that half again
 * at random — so retries spread out and a failing peer is never asked ever faster.
 */
export function equalJitterBackoff(baseMs: number, exponent: number, maxMs = Infinity): number {
  const backoff = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.round(backoff / 2 + Math.random() * (backoff / 2));
}
