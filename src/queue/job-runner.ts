import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { isDatabaseUnavailable } from '../database/database-unavailable';
import { JOB_NAMES, JobName, JobPayloads } from './jobs';
import { QueueConnection } from './queue-connection';

/** A worker-side handler for one job name. */
export interface JobHandler<N extends JobName = JobName> {
  readonly jobName: N;
  readonly concurrency: number;
  /** `token` is the worker's lock token, needed to move the job (e.g. to delay it). */
  handle(job: Job<JobPayloads[N], unknown, N>, token?: string): Promise<unknown>;
  /** The job's last attempt failed: nothing will run it again, so whatever it was for must end visibly here. */
  deadLetter?(job: Job<JobPayloads[N], unknown, N>, err: Error): Promise<void>;
}

export const JOB_HANDLERS = Symbol('JOB_HANDLERS');

/**
 * Starts one BullMQ worker per job name. It refuses to start unless every job name has exactly
 * one handler, and on shutdown lets in-flight jobs finish (BullMQ's close waits for them).
 */
@Injectable()
export class JobRunner implements OnApplicationShutdown {
  private workers: Array<{ close(): Promise<void> }> = [];

  constructor(
    @Inject(JOB_HANDLERS) private readonly handlers: JobHandler[],
    private readonly queues: QueueConnection,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    assertCompleteRegistry(this.handlers);
    await this.queues.assertRedisNoEviction();
    for (const handler of this.handlers) {
      const worker = await this.queues.worker(handler.jobName, (job, token) => this.run(handler, job, token), {
        concurrency: handler.concurrency,
        // A crashed worker's job is retried by another once its lock expires and the next stalled check runs.
        lockDuration: this.config.queue.jobLockMs,
        stalledInterval: this.config.queue.jobLockMs / 2,
        maxStalledCount: 3,
      });
      worker.on('failed', (job, err) => {
        this.logger.warn({ job: job?.id, name: handler.jobName, attempts: job?.attemptsMade, err: err.message }, 'job failed');
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
          handler.deadLetter?.(job as never, err).catch((e: Error) => this.logger.error({ job: job.id, name: handler.jobName, err: e.message }, 'dead-lettering a failed job failed'));
        }
      });
      worker.on('error', (err) => this.logger.error({ name: handler.jobName, err: err.message }, 'queue worker error'));
      this.workers.push(worker);
    }
    this.logger.info({ jobs: this.handlers.map((h) => h.jobName), backend: this.queues.backend }, 'workers started');
  }

  private async run(handler: JobHandler, job: Job, token?: string): Promise<unknown> {
    try {
      return await handler.handle(job as never, token);
    } catch (err) {
      // A database outage spent all six attempts in ~8 s and left the signal unfinished for good: wait it out instead.
      if (!token || !isDatabaseUnavailable(err)) throw err;
      this.logger.warn({ job: job.id, name: handler.jobName, err: (err as Error).message }, 'database unavailable; job delayed without spending an attempt');
      await job.moveToDelayed(Date.now() + OUTAGE_RETRY_MS, token);
      throw new DelayedError();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.close()));
  }
}

const OUTAGE_RETRY_MS = 1_000;

export function assertCompleteRegistry(handlers: JobHandler[]): void {
  for (const name of JOB_NAMES) {
    const count = handlers.filter((h) => h.jobName === name).length;
    if (count !== 1) throw new Error(`job registry: '${name}' has ${count} handlers; exactly one is required`);
  }
  const unknown = handlers.filter((h) => !JOB_NAMES.includes(h.jobName));
  if (unknown.length) throw new Error(`job registry: unknown job names ${unknown.map((h) => h.jobName).join(', ')}`);
}
