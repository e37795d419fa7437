import { Inject, Injectable } from '@nestjs/common';
import { LIMIT_STORE, LimitStore } from '../limits/limit-store';
import { APP_CONFIG, AppConfig } from '../config/app-config';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Fixed windows (RATE_LIMIT_WINDOW_SECONDS) counted in the shared limit store: one limit for all api replicas. */
@Injectable()
export class WebhookRateLimiter {
  constructor(
    @Inject(LIMIT_STORE) private readonly store: LimitStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async take(key: string, limit: number): Promise<RateDecision> {
    const { count, ttlMs } = await this.store.add(`webhook:${key}`, 1, this.config.rateLimit.windowMs);
    if (count <= limit) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
  }
}
