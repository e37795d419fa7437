import { Injectable } from '@nestjs/common';
import { AuditWriter } from '../audit/audit-writer';
import type { SafeDetails } from '../audit/audit-event';
import type { AuthContext } from '../common/auth/auth-context';
import { Problem } from '../common/problem';
import { TenantDb, TenantTx } from '../database/tenant-db';
import { ConnectionRiskRepository } from './connection-risk.repository';
import { ConnectionsRepository } from './connections.repository';
import { CONNECTION_RESOURCE, ConnectionsService } from './connections.service';
import type { ConnectionView } from './dto/connection.dto';
import type { ConnectionKillSwitchDto, LossLimitsDto } from './dto/connection-risk.dto';

/**
 * A connection's own risk settings: its kill switch (entries refused while engaged; exits and flattens go) and its
 * daily loss / drawdown limits, which the worker enforces (src/routing/loss-guard.ts). Each change is audited
 * with its reason in the transaction that makes it.
 */
@Injectable()
export class ConnectionRiskService {
  constructor(
    private readonly db: TenantDb,
    private readonly connections: ConnectionsRepository,
    private readonly views: ConnectionsService,
    private readonly risk: ConnectionRiskRepository,
    private readonly audit: AuditWriter,
  ) {}

  async setKillSwitch(auth: AuthContext, id: string, dto: ConnectionKillSwitchDto): Promise<ConnectionView> {
    return this.db.run(auth.workspaceId, async (tx) => {
      await this.active(tx, id);
      await this.risk.setKillSwitch(tx, auth.workspaceId, id, dto.engaged, dto.reason, `${auth.actor.type}:${auth.actor.id}`);
      await this.record(tx, auth, id, 'connection.kill_switch', dto.reason, { engaged: dto.engaged });
      return this.views.view(tx, id);
    });
  }

  async setLossLimits(auth: AuthContext, id: string, dto: LossLimitsDto): Promise<ConnectionView> {
    const { reason, ...limits } = dto;
    return this.db.run(auth.workspaceId, async (tx) => {
      await this.active(tx, id);
      await this.risk.setLossLimits(tx, auth.workspaceId, id, limits);
      await this.record(tx, auth, id, 'connection.loss_limits', reason, { ...limits });
      return this.views.view(tx, id);
    });
  }

  private async active(tx: TenantTx, id: string): Promise<void> {
    const record = await this.connections.find(tx, id);
    if (!record) throw Problem.notFound('Connection');
    if (record.status !== 'active') throw Problem.conflict('connection_revoked', 'The connection is revoked: nothing routes to it any more.');
  }

  private record(
    tx: TenantTx,
    auth: AuthContext,
    id: string,
    action: 'connection.kill_switch' | 'connection.loss_limits',
    reason: string,
    metadata: SafeDetails,
  ) {
    return this.audit.record(tx, {
      action,
      actor: auth.actor,
      ip: auth.ip,
      requestId: auth.requestId,
      reason,
      resource: { type: CONNECTION_RESOURCE, id },
      metadata,
    });
  }
}
