import { Injectable } from '@nestjs/common';

const WINDOW_MS = 60_000;

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Fixed one-minute windows counted in process memory: O(1) per request and bounded (the map is
 * replaced when the window rolls over). Each api replica counts on its own, so the effective
 * limit scales with the replica count.
 */
@Injectable()
export class WebhookRateLimiter {
  private windowStart = 0;
  private counts = new Map<string, number>();

  take(key: string, limitPerMinute: number, now = Date.now()): RateDecision {
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now - (now % WINDOW_MS);
      this.counts = new Map();
    }
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    if (count <= limitPerMinute) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((this.windowStart + WINDOW_MS - now) / 1000)) };
  }
}
