import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createPostgresBackend, Job, Processor, Queue, Worker, WorkerOptions } from 'bullmq';
import IORedis, { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { QUEUE_SCHEMA } from '../database/bootstrap';
import { DB_ROLE } from '../database/database.tokens';
import type { RuntimeRole } from '../database/database-roles';
import { runtimeDatabaseUrl } from '../database/runtime-database-url';
import { JOB_OPTIONS, JobName, JobPayloads } from './jobs';

export type QueueBackendKind = 'redis' | 'postgres';

/**
 * Builds BullMQ queues and workers on the configured backend: Redis when REDIS_URL is set,
 * else PostgreSQL (BullMQ's postgres backend, schema switchyard_queue) logged in as this process's role.
 */
@Injectable()
export class QueueConnection implements OnApplicationShutdown {
  readonly backend: QueueBackendKind;
  private readonly closables: Array<{ close(): Promise<unknown> }> = [];
  private redis?: Redis;
  private readonly workerRedis: Redis[] = [];
  private pingQueue?: Queue;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DB_ROLE) private readonly role: RuntimeRole,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.backend = config.queue.redisUrl ? 'redis' : 'postgres';
  }

  async queue<N extends JobName>(name: N): Promise<Queue<JobPayloads[N], unknown, N>> {
    const queue =
      this.backend === 'redis'
        ? new Queue<JobPayloads[N], unknown, N>(name, {
            connection: this.redisConnection(),
            prefix: this.config.queue.prefix,
            defaultJobOptions: JOB_OPTIONS[name],
          })
        : (new Queue(name, { connection: await this.postgresConnection(), defaultJobOptions: JOB_OPTIONS[name] }, createPostgresBackend) as unknown as Queue<
            JobPayloads[N],
            unknown,
            N
          >);
    // Without a listener BullMQ prints a lost connection's error to stderr, outside the JSON log.
    queue.on('error', (err) => this.logger.warn({ name, err: err.message }, 'queue connection error'));
    this.closables.push(queue);
    await queue.waitUntilReady();
    return queue;
  }

  async worker<N extends JobName>(
    name: N,
    processor: Processor<JobPayloads[N], unknown, N>,
    options: Omit<WorkerOptions, 'connection'>,
  ): Promise<Worker<JobPayloads[N], unknown, N>> {
    const worker =
      this.backend === 'redis'
        ? new Worker<JobPayloads[N], unknown, N>(name, processor, {
            ...options,
            prefix: this.config.queue.prefix,
            connection: this.ownedRedis(),
          })
        : (new Worker(name, processor as Processor, { ...options, connection: await this.postgresConnection() }, createPostgresBackend) as unknown as Worker<
            JobPayloads[N],
            unknown,
            N
          >);
    this.closables.push(worker);
    return worker;
  }

  /** Readiness probe of the queue backend. */
  async ping(): Promise<void> {
    if (this.backend === 'redis') {
      await this.redisConnection().ping();
      return;
    }
    this.pingQueue ??= await this.queue('route-signal');
    await this.pingQueue.count();
  }

  /** Redis must never evict queue keys: a worker refuses to start otherwise. */
  async assertRedisNoEviction(): Promise<void> {
    if (this.backend !== 'redis') return;
    const reply = (await this.redisConnection().config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== 'noeviction') {
      throw new Error(`Redis maxmemory-policy is '${policy}'; BullMQ needs 'noeviction' (set it in redis.conf or with CONFIG SET)`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.closables.reverse().map((c) => c.close()));
    // BullMQ leaves connections it was handed open; they are ours to close.
    await Promise.allSettled([this.redis, ...this.workerRedis].filter(Boolean).map((r) => r!.quit()));
  }

  /** A blocking worker needs a connection of its own. */
  private ownedRedis(): Redis {
    const redis = new IORedis(this.config.queue.redisUrl!, { maxRetriesPerRequest: null });
    this.workerRedis.push(redis);
    return redis;
  }

  private redisConnection(): Redis {
    this.redis ??= new IORedis(this.config.queue.redisUrl!, { maxRetriesPerRequest: null });
    return this.redis;
  }

  private async postgresConnection() {
    return {
      connectionString: await runtimeDatabaseUrl(this.config, this.role),
      schema: QUEUE_SCHEMA,
      max: 4,
      application_name: `switchyard-${this.role}-queue`,
    };
  }
}

export type { Job };
