import { Global, Inject, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import IORedis, { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { PG_POOL } from '../database/database.tokens';
import { LOGGER } from '../common/logger';
import { PollingLoop } from '../common/polling-loop';
import { FallbackLimitStore } from './fallback-limit-store';
import { LIMIT_STORE, LimitStore } from './limit-store';
import { PostgresLimitStore } from './postgres-limit-store';
import { RedisLimitStore } from './redis-limit-store';

const LIMIT_REDIS = Symbol('LIMIT_REDIS');
const POSTGRES_STORE = Symbol('POSTGRES_LIMIT_STORE');
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1000;

/**
 * The api's shared limit store (LIMIT_STORE): Redis when configured (PostgreSQL while Redis is down),
 * else PostgreSQL. Its own Redis connection fails fast instead of queueing commands while disconnected.
 */
@Global()
@Module({
  providers: [
    { provide: POSTGRES_STORE, inject: [PG_POOL], useFactory: (pool: Pool) => new PostgresLimitStore(pool) },
    {
      provide: LIMIT_REDIS,
      inject: [APP_CONFIG, LOGGER],
      useFactory: (config: AppConfig, logger: Logger): Redis | undefined => {
        if (config.rateLimit.store !== 'redis') return undefined;
        const redis = new IORedis(config.queue.redisUrl!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 });
        redis.on('error', (err) => logger.debug({ err: err.message }, 'limit store Redis connection error'));
        return redis;
      },
    },
    {
      provide: LIMIT_STORE,
      inject: [APP_CONFIG, LOGGER, POSTGRES_STORE, LIMIT_REDIS],
      useFactory: (config: AppConfig, logger: Logger, postgres: PostgresLimitStore, redis: Redis | undefined): LimitStore =>
        redis ? new FallbackLimitStore(new RedisLimitStore(redis, config.queue.prefix), postgres, logger) : postgres,
    },
  ],
  exports: [LIMIT_STORE],
})
export class LimitsModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly sweep: PollingLoop;

  constructor(
    @Inject(POSTGRES_STORE) postgres: PostgresLimitStore,
    @Inject(LIMIT_REDIS) private readonly redis: Redis | undefined,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.sweep = new PollingLoop(
      'limit counter sweep',
      logger,
      async () => ((await postgres.sweep(SWEEP_BATCH)) === SWEEP_BATCH ? 0 : SWEEP_EVERY_MS),
      SWEEP_EVERY_MS,
    );
  }

  onApplicationBootstrap(): void {
    this.sweep.start(SWEEP_EVERY_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sweep.stop();
    await this.redis?.quit().catch(() => undefined);
  }
}
