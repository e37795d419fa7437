import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { JOB_NAMES, JobName, JobPayloads } from './jobs';
import { QueueConnection } from './queue-connection';

/** A worker-side handler for one job name. */
export interface JobHandler<N extends JobName = JobName> {
  readonly jobName: N;
  readonly concurrency: number;
  /** `token` is the worker's lock token, needed to move the job (e.g. to delay it). */
  handle(job: Job<JobPayloads[N], unknown, N>, token?: string): Promise<unknown>;
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
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    assertCompleteRegistry(this.handlers);
    await this.queues.assertRedisNoEviction();
    for (const handler of this.handlers) {
      const worker = await this.queues.worker(handler.jobName, (job, token) => handler.handle(job as never, token), {
        concurrency: handler.concurrency,
        // A crashed worker's job is retried by another after this lock expires.
        lockDuration: 30_000,
        maxStalledCount: 3,
      });
      worker.on('failed', (job, err) => this.logger.warn({ job: job?.id, name: handler.jobName, attempts: job?.attemptsMade, err: err.message }, 'job failed'));
      worker.on('error', (err) => this.logger.error({ name: handler.jobName, err: err.message }, 'queue worker error'));
      this.workers.push(worker);
    }
    this.logger.info({ jobs: this.handlers.map((h) => h.jobName), backend: this.queues.backend }, 'workers started');
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.close()));
  }
}

export function assertCompleteRegistry(handlers: JobHandler[]): void {
  for (const name of JOB_NAMES) {
    const count = handlers.filter((h) => h.jobName === name).length;
    if (count !== 1) throw new Error(`job registry: '${name}' has ${count} handlers; exactly one is required`);
  }
  const unknown = handlers.filter((h) => !JOB_NAMES.includes(h.jobName));
  if (unknown.length) throw new Error(`job registry: unknown job names ${unknown.map((h) => h.jobName).join(', ')}`);
}
