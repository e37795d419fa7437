import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { PollingLoop } from '../common/polling-loop';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { isDatabaseUnavailable } from '../common/database-unavailable';
import { JOB_NAMES, JobName, JobPayloads } from './jobs';
import { QueueConnection } from './queue-connection';

/** A worker-side handler for one job name. */
export interface JobHandler<N extends JobName = JobName> {
  readonly jobName: N;
  readonly concurrency: number;
  /** `token` is the worker's lock token, needed to move the job (e.g. to delay it). */
  handle(job: Job<JobPayloads[N], unknown, N>, token?: string): Promise<unknown>;
  /**
   * The queue gave the job up (its last attempt failed, or its worker died on it too often): nothing will
   * run it again, so whatever it was for must end visibly here. `because` says why in words safe to show.
   * Called at least once per given-up job, so it must be idempotent.
   */
  deadLetter?(job: GivenUpJob<N>, because: string): Promise<void>;
}

export const JOB_HANDLERS = Symbol('JOB_HANDLERS');

/** What a dead-letter handler may rely on of a job the queue gave up. */
export type GivenUpJob<N extends JobName = JobName> = Pick<Job<JobPayloads[N], unknown, N>, 'id' | 'data' | 'attemptsMade'>;

/**
 * Starts one BullMQ worker per job name. It refuses to start unless every job name has exactly
 * one handler, and on shutdown lets in-flight jobs finish (BullMQ's close waits for them).
 */
@Injectable()
export class JobRunner implements OnApplicationShutdown {
  private workers: Array<{ close(): Promise<void> }> = [];
  private readonly givenUpSweep: PollingLoop;
  /** Per job name: the finish time of the newest given-up job already dead-lettered. */
  private readonly sweptUntil = new Map<JobName, number>();
  /** Opened on the first pass; QueueConnection closes them on shutdown. */
  private readonly sweptQueues = new Map<
    JobName,
    { getFailed(start: number, end: number): Promise<Array<GivenUpJob & { finishedOn?: number; failedReason?: string }>> }
  >();

  constructor(
    @Inject(JOB_HANDLERS) private readonly handlers: JobHandler[],
    private readonly queues: QueueConnection,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.givenUpSweep = new PollingLoop('given-up job sweep', logger, async () => (await this.sweepGivenUp(), GIVEN_UP_SWEEP_MS), GIVEN_UP_SWEEP_MS);
  }

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
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) void this.deadLetter(handler, job, givenUpBecause(job));
      });
      worker.on('error', (err) => this.logger.error({ name: handler.jobName, err: err.message }, 'queue worker error'));
      this.workers.push(worker);
    }
    this.givenUpSweep.start();
    this.logger.info({ jobs: this.handlers.map((h) => h.jobName), backend: this.queues.backend }, 'workers started');
  }

  /**
   * The queue also gives a job up without a failed attempt reaching any worker: BullMQ's stall limit
   * (a worker died on the job maxStalledCount times) fails it from the stall check, which emits no
   * 'failed' event to workers. So every pass looks at the most recently given-up jobs as well.
   */
  private async sweepGivenUp(): Promise<void> {
    for (const handler of this.handlers) {
      if (!handler.deadLetter) continue;
      let queue = this.sweptQueues.get(handler.jobName);
      if (!queue) this.sweptQueues.set(handler.jobName, (queue = await this.queues.queue(handler.jobName)));
      const since = this.sweptUntil.get(handler.jobName) ?? 0;
      let until = since;
      let allDone = true;
      for (const job of await queue.getFailed(0, GIVEN_UP_BATCH - 1)) {
        const finishedOn = job?.finishedOn ?? 0;
        if (!job || finishedOn <= since) continue;
        allDone = (await this.deadLetter(handler, job, givenUpBecause(job))) && allDone;
        until = Math.max(until, finishedOn);
      }
      // One that could not be dead-lettered (the database away) is tried again next pass, with the others (idempotent).
      if (allDone) this.sweptUntil.set(handler.jobName, until);
    }
  }

  /** True when the handler dead-lettered the job (or found nothing left to do). */
  private async deadLetter(handler: JobHandler, job: GivenUpJob, because: string): Promise<boolean> {
    try {
      await handler.deadLetter!(job as never, because);
      return true;
    } catch (err) {
      this.logger.error({ job: job.id, name: handler.jobName, err: (err as Error).message }, 'dead-lettering a given-up job failed');
      return false;
    }
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
    await this.givenUpSweep.stop();
    await Promise.allSettled(this.workers.map((w) => w.close()));
  }
}

const OUTAGE_RETRY_MS = 1_000;
const GIVEN_UP_SWEEP_MS = 15_000;
// The newest given-up jobs only: an older one was seen by an earlier pass (or this process's 'failed' event).
const GIVEN_UP_BATCH = 200;

/** Why the queue gave a job up, in words safe to show a user (the error itself goes to the log only). */
function givenUpBecause(job: { attemptsMade: number; failedReason?: string }): string {
  return /stalled/i.test(job.failedReason ?? '') ? 'its worker stopped while running it too many times' : `${job.attemptsMade} attempt(s) failed`;
}

export function assertCompleteRegistry(handlers: JobHandler[]): void {
  for (const name of JOB_NAMES) {
    const count = handlers.filter((h) => h.jobName === name).length;
    if (count !== 1) throw new Error(`job registry: '${name}' has ${count} handlers; exactly one is required`);
  }
  const unknown = handlers.filter((h) => !JOB_NAMES.includes(h.jobName));
  if (unknown.length) throw new Error(`job registry: unknown job names ${unknown.map((h) => h.jobName).join(', ')}`);
}
