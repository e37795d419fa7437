import { Inject, Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { BrokerCredentials, BrokerName } from '../brokers/broker-adapter';
import { BrokerError } from '../brokers/broker-error';
import { BrokerRegistry } from '../brokers/broker-registry';
import { LOGGER } from '../common/logger';
import { TenantDb } from '../database/tenant-db';
import type { JobHandler } from '../queue/job-runner';
import type { JobPayloads } from '../queue/jobs';
import { CredentialOpener, TaskContext } from './credential-opener';
import { ConnectionTasksRepository } from './connection-tasks.repository';

type SnapshotJob = Job<JobPayloads['snapshot-connection'], unknown, 'snapshot-connection'>;

/**
 * Handles `snapshot-connection`: fetches the connection's positions and account for the request the api made and
 * stores them as its snapshot (the api answers from it). The credential is opened with purpose `snapshot`, only
 * while that request is unanswered and the connection active; a redelivered job finds it answered and does nothing.
 */
@Injectable()
export class ConnectionSnapshotter implements JobHandler<'snapshot-connection'> {
  readonly jobName = 'snapshot-connection' as const;
  readonly concurrency = 4;

  constructor(
    private readonly db: TenantDb,
    private readonly repository: ConnectionTasksRepository,
    private readonly opener: CredentialOpener,
    private readonly brokers: BrokerRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async handle(job: SnapshotJob): Promise<unknown> {
    const { workspaceId, connectionId, requestId } = job.data;
    const context: TaskContext = { workspaceId, jobId: job.id!, connectionId, purpose: 'snapshot', taskId: requestId };
    const taken = await this.db.runRaw(workspaceId, async (client) => {
      const target = await this.repository.snapshotRequest(client, connectionId, requestId);
      if (!target) return undefined;
      if (target.connectionStatus !== 'active') {
        await this.repository.answerSnapshot(client, connectionId, requestId, { error: 'connection_revoked: the connection is revoked' });
        return undefined;
      }
      return { target, grant: await this.opener.authorizeTask(client, context) };
    });
    if (!taken) return { skipped: true };
    const { target, grant } = taken;
    let credentials: BrokerCredentials | undefined;
    try {
      credentials = await this.opener.open(grant);
      const adapter = this.brokers.get(target.broker as BrokerName);
      const [positions, account] = await Promise.all([
        adapter.getPositions(credentials, target.environment, connectionId),
        adapter.getAccount(credentials, target.environment, connectionId),
      ]);
      await this.db.runRaw(workspaceId, (client) => this.repository.answerSnapshot(client, connectionId, requestId, { positions, account }));
      return { positions: positions.length };
    } catch (err) {
      // Broker errors are safe to show; anything else is named in the log only.
      const error = err instanceof BrokerError ? `${err.kind}: ${err.message}` : 'internal error';
      this.logger.warn({ connectionId, requestId, err: err instanceof BrokerError ? error : ((err as Error)?.name ?? 'unknown') }, 'snapshot fetch failed');
      await this.db.runRaw(workspaceId, (client) => this.repository.answerSnapshot(client, connectionId, requestId, { error }));
      return { failed: true };
    } finally {
      credentials = undefined;
    }
  }
}
