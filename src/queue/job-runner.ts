import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
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
      const worker = await this.queues.worker(handler.jobName, (job, token) => this.run(handler, job, token), {
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
// Connection-level failures (refused, reset, server shutting down or starting up), never a refusal of the work itself.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);
const UNAVAILABLE_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/** True when the error, or an error that caused it, says the database could not be reached. */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (current instanceof Error && UNAVAILABLE_MESSAGES.test(current.message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export function assertCompleteRegistry(handlers: JobHandler[]): void {
  for (const name of JOB_NAMES) {
    const count = handlers.filter((h) => h.jobName === name).length;
    if (count !== 1) throw new Error(`job registry: '${name}' has ${count} handlers; exactly one is required`);
  }
  const unknown = handlers.filter((h) => !JOB_NAMES.includes(h.jobName));
  if (unknown.length) throw new Error(`job registry: unknown job names ${unknown.map((h) => h.jobName).join(', ')}`);
}
