/** A counter in the shared limit store: its value and the milliseconds until it expires (0 when absent). */
export interface LimitCounter {
  count: number;
  ttlMs: number;
}

/**
 * Fixed-window counters every api replica shares (PostgreSQL or Redis, never process memory). A counter
 * is created by its first `add` with a TTL of `windowMs` and is gone once that TTL runs out; each call
 * is one atomic operation in the store, so concurrent replicas never lose a count.
 */
export interface LimitStore {
  /** Adds `by` (negative gives counts back, never below 0) and answers the new value. */
  add(key: string, by: number, windowMs: number): Promise<LimitCounter>;
  peek(key: string): Promise<LimitCounter>;
  /** Makes an existing counter expire `ttlMs` from now, sooner or later than its window would (a lockout). */
  hold(key: string, ttlMs: number): Promise<void>;
  delete(...keys: string[]): Promise<void>;
}

export const LIMIT_STORE = Symbol('LIMIT_STORE');
