import type { ThrottlerStorage } from '@nestjs/throttler';
import type { LimitStore } from './limit-store';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** @nestjs/throttler's storage on the shared limit store: the global throttle holds across replicas. */
export class LimitThrottlerStorage implements ThrottlerStorage {
  constructor(private readonly store: LimitStore) {}

  async increment(key: string, ttl: number, limit: number, _blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const { count, ttlMs } = await this.store.add(`throttle:${throttlerName}:${key}`, 1, ttl);
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const isBlocked = count > limit;
    // Blocked until the window ends: the fixed window is the block.
    return { totalHits: count, timeToExpire: seconds, isBlocked, timeToBlockExpire: isBlocked ? seconds : 0 };
  }
}
