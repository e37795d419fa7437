import { createHash } from 'node:crypto';

/**
 * The order's id at the broker: derived from (signal, route) so every retry of the same order
 * carries the same id and the broker's own duplicate check refuses a second fill. 25 characters
 * of [A-Za-z0-9_-]: within every supported broker's rules (Binance allows 36, Alpaca 128).
 */
export function clientOrderId(signalId: string, routeId: string): string {
  return `sy${createHash('sha256').update(`${signalId}:${routeId}`).digest('base64url').slice(0, 23)}`;
}
