import type { Redis } from 'ioredis';
import type { LimitCounter, LimitStore } from './limit-store';

// INCRBY and the TTL in one script: a counter never lives on without its expiry.
const ADD = `
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
if c < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL'); c = 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
return {c, ttl}`;
const PEEK = `
local c = redis.call('GET', KEYS[1])
if not c then return {0, 0} end
return {tonumber(c), redis.call('PTTL', KEYS[1])}`;
const HOLD = `
if redis.call('PTTL', KEYS[1]) >= 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 0`;

/** Counters as Redis keys under `<prefix>:limit:`, each call one script (atomic on the server). */
export class RedisLimitStore implements LimitStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async add(key: string, by: number, windowMs: number): Promise<LimitCounter> {
    return counter(await this.redis.eval(ADD, 1, this.key(key), by, windowMs));
  }

  async peek(key: string): Promise<LimitCounter> {
    return counter(await this.redis.eval(PEEK, 1, this.key(key)));
  }

  async hold(key: string, ttlMs: number): Promise<void> {
    await this.redis.eval(HOLD, 1, this.key(key), ttlMs);
  }

  async delete(...keys: string[]): Promise<void> {
    await this.redis.del(...keys.map((k) => this.key(k)));
  }

  private key(key: string): string {
    return `${this.prefix}:limit:${key}`;
  }
}

function counter(reply: unknown): LimitCounter {
  const [count, ttlMs] = reply as [number, number];
  return { count: Number(count), ttlMs: Math.max(0, Number(ttlMs)) };
}
