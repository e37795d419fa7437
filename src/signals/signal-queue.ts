import { Injectable } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import type { JobPayloads } from '../queue/jobs';
import { QueueConnection } from '../queue/queue-connection';

/**
 * Options of every route-signal job. The job id is the signal id, so adding a signal twice (hot path
 * and recovery sweep racing) stores one job. Finished jobs are kept for a day so a late re-add of the
 * same id is still absorbed; the signal row's status is what stops a re-run after that.
 */
export const ROUTE_SIGNAL_JOB_OPTIONS = {
  removeOnComplete: { age: 24 * 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const satisfies JobsOptions;

/** The producer side of the route-signal queue, on whichever backend QueueConnection chose. */
@Injectable()
export class SignalQueue {
  private queue?: Promise<Queue<JobPayloads['route-signal'], unknown, 'route-signal'>>;

  constructor(private readonly connection: QueueConnection) {}

  async enqueue(workspaceId: string, signalId: string): Promise<void> {
    await (await this.open()).add('route-signal', { workspaceId, signalId }, { ...ROUTE_SIGNAL_JOB_OPTIONS, jobId: signalId });
  }

  async isEnqueued(signalId: string): Promise<boolean> {
    return (await (await this.open()).getJob(signalId)) !== undefined;
  }

  // Opened on first use and retried after a failure, so an unreachable Redis at boot does not stop the api.
  private open(): Promise<Queue<JobPayloads['route-signal'], unknown, 'route-signal'>> {
    this.queue ??= this.connection.queue('route-signal').catch((err: unknown) => {
      this.queue = undefined;
      throw err;
    });
    return this.queue;
  }
}
