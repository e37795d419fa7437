import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import { LOGGER } from '../common/logger';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { PG_POOL } from '../database/database.tokens';
import { TenantDb } from '../database/tenant-db';
import { approvalJobId, JobPayloads } from '../queue/jobs';
import { QueueConnection } from '../queue/queue-connection';
import { ApprovalsRepository } from './approvals.repository';
import { approvalExpiredReason } from './risk/approval';

const SWEEP_EVERY_MS = 1_000;
/** A decision older than this whose signal is still unsettled gets its job added again (the api died before adding it). */
const DECIDED_FOR_MS = 10_000;
const BATCH = 100;

/**
 * Ends orders nobody approved in time (`expired`, with the reason, audited, a transition row) and hands each
 * decision — approve, reject, expiry — to a `route-signal` job of its own, which sends the approved orders through
 * the normal execution path and settles the signal. The job id is the order's, so a job that exists already
 * absorbs the add; a decision whose job the api never added (it died after its commit) is added here.
 */
@Injectable()
export class ApprovalSweep extends LoopingService {
  protected readonly loop: PollingLoop;
  private queue?: Queue<JobPayloads['route-signal'], unknown, 'route-signal'>;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly db: TenantDb,
    private readonly repository: ApprovalsRepository,
    private readonly audit: AuditWriter,
    private readonly queues: QueueConnection,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
    this.loop = new PollingLoop('approval sweep', logger, () => this.pass(), SWEEP_EVERY_MS);
  }

  /** One sweep; returns how many orders it expired and how many jobs it added. */
  async sweep(decidedForMs = DECIDED_FOR_MS): Promise<{ expired: number; queued: number }> {
    const due = await this.repository.due(this.pool, decidedForMs, BATCH);
    let expired = 0;
    for (const d of due) {
      if (d.due === 'expire') {
        if (!(await this.db.runRaw(d.workspaceId, (client) => this.expire(client, d.orderId)))) continue;
        expired += 1;
      }
      this.queue ??= await this.queues.queue('route-signal');
      await this.queue.add('route-signal', { workspaceId: d.workspaceId, signalId: d.signalId, orderId: d.orderId }, { jobId: approvalJobId(d.orderId) });
    }
    if (due.length) this.logger.info({ expired, queued: due.length }, 'approval sweep');
    return { expired, queued: due.length };
  }

  private async expire(client: PoolClient, orderId: string): Promise<boolean> {
    const order = await this.repository.lockExpired(client, orderId);
    if (!order) return false;
    const reason = approvalExpiredReason(order.expiresAt);
    await this.repository.expire(client, orderId, reason);
    await this.audit.recordRaw(client, {
      action: 'order.approval_expired',
      actor: { type: 'system', id: 'approval-sweep' },
      resource: { type: 'order', id: order.id },
      reason,
      metadata: { routeId: order.routeId, symbol: order.symbol },
    });
    return true;
  }

  private async pass(): Promise<number> {
    await this.sweep();
    return SWEEP_EVERY_MS;
  }
}
