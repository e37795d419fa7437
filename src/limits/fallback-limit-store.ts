import type { Logger } from 'pino';
import type { LimitCounter, LimitStore } from './limit-store';

const WARN_EVERY_MS = 30_000;

/**
 * Redis first; while it cannot answer, the PostgreSQL store counts (still shared by every replica), so a
 * Redis outage neither stops webhooks nor lifts the login limits. Counts made during the outage stay in
 * PostgreSQL and are not merged back.
 */
export class FallbackLimitStore implements LimitStore {
  private warnedAt = 0;

  constructor(
    private readonly primary: LimitStore,
    private readonly fallback: LimitStore,
    private readonly logger: Logger,
  ) {}

  add(key: string, by: number, windowMs: number): Promise<LimitCounter> {
    return this.either((s) => s.add(key, by, windowMs));
  }

  peek(key: string): Promise<LimitCounter> {
    return this.either((s) => s.peek(key));
  }

  hold(key: string, ttlMs: number): Promise<void> {
    return this.either((s) => s.hold(key, ttlMs));
  }

  delete(...keys: string[]): Promise<void> {
    return this.either((s) => s.delete(...keys));
  }

  private async either<T>(op: (store: LimitStore) => Promise<T>): Promise<T> {
    try {
      return await op(this.primary);
    } catch (err) {
      if (Date.now() - this.warnedAt > WARN_EVERY_MS) {
        this.warnedAt = Date.now();
        this.logger.warn({ err: (err as Error).message }, 'limit store: Redis unavailable, counting in PostgreSQL');
      }
      return op(this.fallback);
    }
  }
}
