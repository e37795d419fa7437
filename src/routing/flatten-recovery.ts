import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { PG_POOL } from '../database/database.tokens';
import { flattenJobId, JobPayloads } from '../queue/jobs';
import { QueueConnection } from '../queue/queue-connection';

/** How long a connection's flatten may stay pending before its job is added again. */
const PENDING_FOR_MS = 10_000;
const SWEEP_EVERY_MS = 10_000;
const BATCH = 100;

/**
 * Adds the job again for every flatten of a connection still pending well after it was requested: the api records
 * the flatten, then adds the job, and a crash or a queue outage in between would leave it waiting for good. The job
 * id is the flatten's, so a job that exists already (merely waiting its turn) absorbs the add.
 */
@Injectable()
export class FlattenRecovery extends LoopingService {
  protected readonly loop: PollingLoop;
  private queue?: Queue<JobPayloads['flatten-connection'], unknown, 'flatten-connection'>;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly queues: QueueConnection,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
    this.loop = new PollingLoop('flatten recovery', logger, () => this.pass(), SWEEP_EVERY_MS);
  }

  /** One sweep; returns how many jobs it added (or found already there). */
  async sweep(pendingForMs = PENDING_FOR_MS): Promise<number> {
    const { rows } = await this.pool.query<{ workspace_id: string; flatten_id: string; connection_id: string }>(
      'SELECT workspace_id::text, flatten_id::text, connection_id::text FROM flattens_unqueued($1, $2)',
      [pendingForMs, BATCH],
    );
    if (rows.length === 0) return 0;
    this.queue ??= await this.queues.queue('flatten-connection');
    for (const r of rows) {
      await this.queue.add(
        'flatten-connection',
        { workspaceId: r.workspace_id, flattenId: r.flatten_id, connectionId: r.connection_id },
        { jobId: flattenJobId(r.flatten_id, r.connection_id) },
      );
    }
    this.logger.info({ flattens: rows.length }, 'pending flatten jobs added again');
    return rows.length;
  }

  private async pass(): Promise<number> {
    await this.sweep();
    return SWEEP_EVERY_MS;
  }
}
