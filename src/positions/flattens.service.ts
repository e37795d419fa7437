import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import { LOGGER } from '../common/logger';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../common/auth/auth-context';
import { ApprovalJobs } from '../orders/approval-jobs';
import { ConnectionJobs } from './connection-jobs';
import type { FlattenDto } from './dto/flatten.dto';
import { flattenedApprovalEvents, FlattensRepository } from './flattens.repository';

/**
 * Flatten: cancel open orders and close positions, on one connection or on every active one of the workspace.
 * The api records the flatten (audited with its reason) and hands each connection to the worker as a
 * `flatten-connection` job; GET /v1/flattens/:id shows the progress and the closing orders.
 */
@Injectable()
export class FlattensService {
  constructor(
    private readonly db: TenantDb,
    private readonly repository: FlattensRepository,
    private readonly audit: AuditWriter,
    private readonly jobs: ConnectionJobs,
    private readonly approvals: ApprovalJobs,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async flattenConnection(auth: AuthContext, connectionId: string, dto: FlattenDto) {
    return this.request(auth, dto, connectionId);
  }

  async flattenWorkspace(auth: AuthContext, dto: FlattenDto) {
    return this.request(auth, dto);
  }

  async get(auth: AuthContext, id: string) {
    const found = await this.db.runRaw(auth.workspaceId, (client) => this.repository.find(client, id));
    if (!found) throw Problem.notFound('Flatten');
    const { flatten, connections, orders } = found;
    return {
      id: flatten.id,
      scope: flatten.scope,
      reason: flatten.reason,
      status: overallStatus(connections.map((c) => c.status)),
      requestedBy: { type: flatten.requestedByType, id: flatten.requestedBy },
      createdAt: flatten.createdAt.toISOString(),
      connections: connections.map((c) => ({
        connectionId: c.connectionId,
        status: c.status,
        canceledOrders: c.canceledOrders,
        error: c.error,
        attempts: c.attempts,
        updatedAt: c.updatedAt.toISOString(),
        orders: orders
          .filter((o) => o.connectionId === c.connectionId)
          .map(({ connectionId: _c, createdAt, ...o }) => ({ ...o, createdAt: createdAt.toISOString() })),
      })),
    };
  }

  private async request(auth: AuthContext, dto: FlattenDto, connectionId?: string) {
    const id = randomUUID();
    const scope = connectionId ? 'connection' : 'workspace';
    const { targets, ended } = await this.db.runRaw(auth.workspaceId, async (client) => {
      const connections = await this.repository.connections(client, connectionId);
      if (connectionId && connections.length === 0) throw Problem.notFound('Connection');
      if (connectionId && connections[0].status !== 'active') {
        throw Problem.conflict(
          'connection_revoked',
          'The connection is revoked: Switchyard can no longer act at its broker (close its positions at the broker).',
        );
      }
      const active = connections.filter((c) => c.status === 'active').map((c) => c.id);
      const ended = await this.repository.insert(
        client,
        auth.workspaceId,
        { id, scope, reason: dto.reason, requestedByType: auth.actor.type, requestedBy: auth.actor.id },
        active,
      );
      await this.audit.recordRaw(client, {
        action: 'flatten.request',
        actor: auth.actor,
        ip: auth.ip,
        requestId: auth.requestId,
        reason: dto.reason,
        resource: connectionId ? { type: 'connection', id: connectionId } : { type: 'workspace', id: auth.workspaceId },
        metadata: { flattenId: id, scope, connections: active.length, ...(ended.length && { endedApprovals: ended.length }) },
      });
      for (const event of flattenedApprovalEvents(auth.actor, auth.requestId, id, ended)) await this.audit.recordRaw(client, event);
      return { targets: active, ended };
    });
    // After the commit, so the worker finds the flatten; a failed add leaves that connection pending (shown as such).
    for (const target of targets) {
      await this.jobs
        .flatten(auth.workspaceId, id, target)
        .catch((err: Error) => this.logger.error({ flattenId: id, connectionId: target, err: err.message }, 'could not enqueue a flatten job'));
    }
    // Each ended order's signal settles through its decision's job (the approval sweep adds it again if this add fails).
    for (const o of ended) await this.approvals.decided(auth.workspaceId, o.signalId, o.id).catch(() => undefined);
    return { id, scope, status: targets.length ? 'pending' : 'done', connections: targets.map((c) => ({ connectionId: c, status: 'pending' })) };
  }
}

/** A flatten is done when every connection is; failed when every one finished and one failed. */
function overallStatus(statuses: string[]): 'pending' | 'running' | 'done' | 'failed' {
  if (statuses.every((s) => s === 'done')) return 'done';
  if (statuses.every((s) => s === 'done' || s === 'failed')) return 'failed';
  return statuses.some((s) => s !== 'pending') ? 'running' : 'pending';
}
