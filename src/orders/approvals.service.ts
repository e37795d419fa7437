import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import { LOGGER } from '../common/logger';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../common/auth/auth-context';
import { ApprovalJobs } from './approval-jobs';
import type { ApproveOrderDto, RejectOrderDto } from './approval.dto';
import { ApprovalsRepository, ApprovalState } from './approvals.repository';
import type { OrderDetailView } from './order.dto';
import { OrdersService } from './orders.service';

/**
 * A person's decision on an order held for manual approval. Approve hands it (and the later legs of its signal on the
 * same route) to the worker, which re-runs the risk gate right before sending it; reject ends it `rejected`. Either is
 * audited with the reason, in the transaction that records it; the decision's job is added after the commit (the
 * worker's approval sweep adds it again if this process dies in between).
 */
@Injectable()
export class ApprovalsService {
  constructor(
    private readonly db: TenantDb,
    private readonly repository: ApprovalsRepository,
    private readonly orders: OrdersService,
    private readonly audit: AuditWriter,
    private readonly jobs: ApprovalJobs,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  approve(auth: AuthContext, id: string, dto: ApproveOrderDto): Promise<OrderDetailView> {
    return this.decide(auth, id, 'approve', dto.reason);
  }

  reject(auth: AuthContext, id: string, dto: RejectOrderDto): Promise<OrderDetailView> {
    return this.decide(auth, id, 'reject', dto.reason);
  }

  private async decide(auth: AuthContext, id: string, decision: 'approve' | 'reject', reason: string | undefined): Promise<OrderDetailView> {
    const decided = await this.db.runRaw(auth.workspaceId, async (client) => {
      const orders = await this.repository.decide(
        client,
        id,
        decision === 'approve' ? 'pending' : 'rejected',
        decision === 'reject' ? `approval_rejected: ${reason}` : null,
      );
      if (orders.length === 0) throw refusal(await this.repository.state(client, id));
      await this.audit.recordRaw(client, {
        action: decision === 'approve' ? 'order.approve' : 'order.reject',
        actor: auth.actor,
        ip: auth.ip,
        requestId: auth.requestId,
        reason,
        resource: { type: 'order', id },
        metadata: { signalId: orders[0].signalId, routeId: orders[0].routeId, symbol: orders[0].symbol, orders: orders.length },
      });
      return orders[0];
    });
    await this.jobs
      .decided(auth.workspaceId, decided.signalId, id)
      .catch((err: Error) => this.logger.error({ orderId: id, err: err.message }, 'could not enqueue an approval job; the approval sweep adds it again'));
    return this.orders.get(auth, id);
  }
}

function refusal(state: ApprovalState | undefined): Problem {
  if (!state) return Problem.notFound('Order');
  if (state.earlierLegAwaiting) {
    return Problem.conflict(
      'earlier_leg_awaiting_approval',
      'This is the opening order of a reversal: decide on its closing order (the earlier leg) first; the decision covers both.',
    );
  }
  const detail =
    state.status === 'awaiting_approval'
      ? `The order's approval expired at ${state.expiresAt!.toISOString()}; it will not be sent.`
      : `The order is ${state.status}, not awaiting approval (it was already decided, expired, or never needed approval).`;
  return new Problem(409, 'order_not_awaiting_approval', 'Conflict', detail, { orderStatus: state.status === 'awaiting_approval' ? 'expired' : state.status });
}
