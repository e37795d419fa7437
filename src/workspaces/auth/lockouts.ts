import { Inject, Injectable } from '@nestjs/common';
import { LIMIT_STORE, LimitStore } from '../../limits/limit-store';
import { Problem } from '../../common/problem';
import { APP_CONFIG, AppConfig, LockoutSettings } from '../../config/app-config';

// How long repeated lockouts are remembered (each one doubles the next).
const STRIKE_MEMORY_MS = 24 * 3600_000;

export type Reservation = { locked: false; count: number } | { locked: true; retryAfterSeconds: number };
export interface Lockout {
  seconds: number;
  /** 1 for the first lockout in STRIKE_MEMORY_MS, 2 for the next, … */
  strike: number;
}

/**
 * Failure counters in the shared limit store that lock a key (an account, an IP) once `max` failures fall
 * in one window. A lockout lasts LOGIN_LOCKOUT_SECONDS, doubled for each repeated lockout up to
 * LOGIN_LOCKOUT_MAX_SECONDS, and ends on its own: the counter's TTL is the lockout.
 */
@Injectable()
export class Lockouts {
  private readonly settings: LockoutSettings;

  constructor(
    @Inject(LIMIT_STORE) private readonly store: LimitStore,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.settings = config.auth.lockout;
  }

  /** Counts an attempt before it is evaluated, so concurrent attempts cannot get past the limit. */
  async reserve(key: string, max: number): Promise<Reservation> {
    const { count, ttlMs } = await this.store.add(key, 1, this.settings.windowMs);
    return count > max ? { locked: true, retryAfterSeconds: seconds(ttlMs) } : { locked: false, count };
  }

  /** Gives a reservation back (the attempt succeeded or was never evaluated). */
  async release(key: string): Promise<void> {
    await this.store.add(key, -1, this.settings.windowMs);
  }

  /** Counts a failure after the fact; past `max` the answer is the lockout's remaining seconds. */
  async fail(key: string, max: number): Promise<{ count: number; retryAfterSeconds?: number }> {
    const { count, ttlMs } = await this.store.add(key, 1, this.settings.windowMs);
    return count > max ? { count, retryAfterSeconds: seconds(ttlMs) } : { count };
  }

  /** The remaining seconds of a lockout on `key`, if one holds. */
  async lockedFor(key: string, max: number): Promise<number | undefined> {
    const { count, ttlMs } = await this.store.peek(key);
    return count >= max && ttlMs > 0 ? seconds(ttlMs) : undefined;
  }

  /** Locks `key` (its max-th failure just happened) for a period that grows with each repeated lockout. */
  async lock(key: string): Promise<Lockout> {
    const strike = (await this.store.add(`${key}:strikes`, 1, Math.max(STRIKE_MEMORY_MS, 2 * this.settings.maxLockoutMs))).count;
    const ms = Math.min(this.settings.lockoutMs * 2 ** Math.min(strike - 1, 30), this.settings.maxLockoutMs);
    await this.store.hold(key, ms);
    return { seconds: seconds(ms), strike };
  }

  /** A success: the failures and the lockout history of `key` are forgotten. */
  async reset(key: string): Promise<void> {
    await this.store.delete(key, `${key}:strikes`);
  }
}

export function tooManyAttempts(detail: string, retryAfterSeconds: number): Problem {
  return Problem.tooManyRequests('too_many_attempts', detail, retryAfterSeconds);
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
