import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { approvalJobId, JobPayloads } from '../queue/jobs';
import { QueueConnection } from '../queue/queue-connection';

/** The api's producer of approval jobs: a decision's `route-signal` job, which sends the approved orders and settles the signal. */
@Injectable()
export class ApprovalJobs {
  private queue?: Promise<Queue<JobPayloads['route-signal'], unknown, 'route-signal'>>;

  constructor(private readonly connection: QueueConnection) {}

  async decided(workspaceId: string, signalId: string, orderId: string): Promise<void> {
    await (await this.open()).add('route-signal', { workspaceId, signalId, orderId }, { jobId: approvalJobId(orderId) });
  }

  // Opened on first use and retried after a failure, so an unreachable queue at boot does not stop the api.
  private open(): Promise<Queue<JobPayloads['route-signal'], unknown, 'route-signal'>> {
    this.queue ??= this.connection.queue('route-signal').catch((err: unknown) => {
      this.queue = undefined;
      throw err;
    });
    return this.queue;
  }
}
