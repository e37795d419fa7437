import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { flattenJobId, JobName, JobPayloads, snapshotJobId } from '../queue/jobs';
import { QueueConnection } from '../queue/queue-connection';

type ConnectionJob = 'snapshot-connection' | 'flatten-connection';

/** The api's producer of connection-wide worker jobs (snapshots, flattens): payloads carry ids only. */
@Injectable()
export class ConnectionJobs {
  private readonly queues = new Map<JobName, Promise<Queue>>();

  constructor(private readonly connection: QueueConnection) {}

  async snapshot(workspaceId: string, connectionId: string, requestId: string): Promise<void> {
    await this.add('snapshot-connection', { workspaceId, connectionId, requestId }, snapshotJobId(requestId));
  }

  async flatten(workspaceId: string, flattenId: string, connectionId: string): Promise<void> {
    await this.add('flatten-connection', { workspaceId, flattenId, connectionId }, flattenJobId(flattenId, connectionId));
  }

  private async add<N extends ConnectionJob>(name: N, payload: JobPayloads[N], jobId: string): Promise<void> {
    await (await this.open(name)).add(name, payload, { jobId });
  }

  // Opened on first use and retried after a failure, so an unreachable queue at boot does not stop the api.
  private open(name: ConnectionJob): Promise<Queue> {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = this.connection.queue(name).catch((err: unknown) => {
        this.queues.delete(name);
        throw err;
      }) as Promise<Queue>;
      this.queues.set(name, queue);
    }
    return queue;
  }
}
