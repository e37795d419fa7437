import { createHash } from 'node:crypto';

/**
 * The order's id at the broker: derived from (signal, route, leg) so every retry of the same order
 * carries the same id and the broker's own duplicate check refuses a second fill. 25 characters
 * of [A-Za-z0-9_-]: within every supported broker's rules (Binance allows 36, Alpaca 128).
 */
export function clientOrderId(signalId: string, routeId: string, leg = 0): string {
  // Leg 0 keeps the original derivation, so orders planned before legs existed keep their ids.
  const key = leg === 0 ? `${signalId}:${routeId}` : `${signalId}:${routeId}:${leg}`;
  return `sy${createHash('sha256').update(key).digest('base64url').slice(0, 23)}`;
}
