import IORedis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import pino from 'pino';
import { FallbackLimitStore } from '../../src/limits/fallback-limit-store';
import type { LimitStore } from '../../src/limits/limit-store';
import { PostgresLimitStore } from '../../src/limits/postgres-limit-store';
import { RedisLimitStore } from '../../src/limits/redis-limit-store';
import { freePort } from '../../src/common/free-port';
import { createTestDatabase, TestDatabase } from '../support/database';

const REDIS_URL = 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The shared limit store's contract, on real PostgreSQL (as the api role) and real Redis. */
describe('limit store', () => {
  let db: TestDatabase;
  let pool: Pool;
  let redis: IORedis;
  const prefix = `{sytest-${randomBytes(6).toString('hex')}}`;
  const stores: Record<string, () => LimitStore> = {
    postgres: () => new PostgresLimitStore(pool),
    redis: () => new RedisLimitStore(redis, prefix),
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new Pool({ connectionString: db.apiUrl, max: 10 });
    redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await pool.end();
    await db.drop();
  });

  describe.each(Object.keys(stores))('%s', (name) => {
    let store: LimitStore;
    beforeAll(() => {
      store = stores[name]();
    });
    const key = () => `test:${randomBytes(6).toString('hex')}`;

    it('counts in a window that starts at the first add and ends on its own', async () => {
      const k = key();
      expect(await store.peek(k)).toEqual({ count: 0, ttlMs: 0 });
      const first = await store.add(k, 1, 600);
      expect(first.count).toBe(1);
      expect(first.ttlMs).toBeGreaterThan(0);
      expect(first.ttlMs).toBeLessThanOrEqual(600);
      expect((await store.add(k, 1, 600)).count).toBe(2);
      // The second add does not move the window's end.
      expect((await store.peek(k)).ttlMs).toBeLessThanOrEqual(first.ttlMs);
      await sleep(700);
      expect(await store.peek(k)).toEqual({ count: 0, ttlMs: 0 });
      expect((await store.add(k, 1, 600)).count).toBe(1);
    });

    it('gives counts back without going below zero', async () => {
      const k = key();
      await store.add(k, 1, 60_000);
      await store.add(k, 1, 60_000);
      expect((await store.add(k, -1, 60_000)).count).toBe(1);
      expect((await store.add(k, -5, 60_000)).count).toBe(0);
    });

    it('never loses a count under concurrent adds (one atomic step each)', async () => {
      const k = key();
      const counts = await Promise.all(Array.from({ length: 60 }, () => store.add(k, 1, 60_000)));
      expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    });

    it('holds a counter past its window, or ends it sooner (a lockout)', async () => {
      const [k, short] = [key(), key()];
      await store.add(k, 1, 300);
      await store.hold(k, 1500);
      await store.add(short, 1, 60_000);
      await store.hold(short, 200);
      await sleep(500);
      expect(await store.peek(k)).toEqual({ count: 1, ttlMs: expect.any(Number) });
      expect((await store.peek(k)).ttlMs).toBeGreaterThan(500);
      expect(await store.peek(short)).toEqual({ count: 0, ttlMs: 0 });
      const absent = key();
      await store.hold(absent, 1000);
      expect(await store.peek(absent)).toEqual({ count: 0, ttlMs: 0 });
    });

    it('deletes counters', async () => {
      const [a, b] = [key(), key()];
      await store.add(a, 3, 60_000);
      await store.add(b, 1, 60_000);
      await store.delete(a, b);
      expect(await store.peek(a)).toEqual({ count: 0, ttlMs: 0 });
      expect(await store.peek(b)).toEqual({ count: 0, ttlMs: 0 });
    });
  });

  it('postgres: the sweep removes expired rows only', async () => {
    const store = new PostgresLimitStore(pool);
    const [gone, kept] = [`sweep:${randomBytes(4).toString('hex')}`, `sweep:${randomBytes(4).toString('hex')}`];
    await store.add(gone, 1, 50);
    await store.add(kept, 1, 60_000);
    await sleep(100);
    expect(await store.sweep(1000)).toBeGreaterThanOrEqual(1);
    const rows = await db.adminQuery<{ key: string }>('SELECT key FROM limit_counters WHERE key = ANY($1)', [[gone, kept]]);
    expect(rows.map((r) => r.key)).toEqual([kept]);
  });

  it('redis: keys live under the prefix with their TTL', async () => {
    const k = `ttl:${randomBytes(4).toString('hex')}`;
    await new RedisLimitStore(redis, prefix).add(k, 1, 60_000);
    expect(await redis.pttl(`${prefix}:limit:${k}`)).toBeGreaterThan(50_000);
  });

  it('counts in PostgreSQL while Redis cannot answer', async () => {
    const down = new IORedis(`redis://127.0.0.1:${await freePort()}`, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    down.on('error', () => undefined);
    const postgres = new PostgresLimitStore(pool);
    const store = new FallbackLimitStore(new RedisLimitStore(down, prefix), postgres, pino({ level: 'silent' }));
    const k = `fallback:${randomBytes(4).toString('hex')}`;
    expect((await store.add(k, 1, 60_000)).count).toBe(1);
    expect((await store.add(k, 1, 60_000)).count).toBe(2);
    expect((await postgres.peek(k)).count).toBe(2);
    down.disconnect();
  });
});
