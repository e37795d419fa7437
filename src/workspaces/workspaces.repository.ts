import { Injectable } from '@nestjs/common';
import type { TenantTx } from '../database/tenant-db';
import type { Role } from '../common/auth/auth-context';
import type { Prisma } from '../generated/prisma/client';
import type { LimitColumns } from '../routes/route-limits';

export interface WorkspaceRecord extends LimitColumns {
  id: string;
  name: string;
  killSwitchEngaged: boolean;
  killSwitchReason: string | null;
  killSwitchEngagedRole: string | null;
  liveTradingEnabled: boolean;
  maxSignalAgeSeconds: number | null;
  duplicateWindowSeconds: number | null;
  approval: string | null;
  approvalExpirySeconds: number | null;
  createdAt: Date;
}

const WORKSPACE_FIELDS = {
  id: true,
  name: true,
  killSwitchEngaged: true,
  killSwitchReason: true,
  killSwitchEngagedRole: true,
  liveTradingEnabled: true,
  maxSignalAgeSeconds: true,
  duplicateWindowSeconds: true,
  approval: true,
  approvalExpirySeconds: true,
  createdAt: true,
  maxQuantity: true,
  maxNotional: true,
  maxOrdersPerMinute: true,
  tradingWindows: true,
  blockExitsOutsideWindows: true,
  maxPosition: true,
  maxOpenPositions: true,
} as const;

export interface PlatformKillSwitchRecord {
  killSwitchEngaged: boolean;
  killSwitchReason: string | null;
  killSwitchChangedAt: Date | null;
}

const PLATFORM_SWITCH_FIELDS = { killSwitchEngaged: true, killSwitchReason: true, killSwitchChangedAt: true } as const;

@Injectable()
export class WorkspacesRepository {
  create(tx: TenantTx, id: string, name: string): Promise<WorkspaceRecord> {
    return tx.workspace.create({ data: { id, name }, select: WORKSPACE_FIELDS });
  }

  find(tx: TenantTx, id: string): Promise<WorkspaceRecord | null> {
    return tx.workspace.findUnique({ where: { id }, select: WORKSPACE_FIELDS });
  }

  /** As find, with the row locked until the transaction ends: a read-decide-write on the kill switch sees no concurrent change. */
  async findForUpdate(tx: TenantTx, id: string): Promise<WorkspaceRecord | null> {
    await tx.$queryRaw`SELECT 1 FROM workspaces WHERE id = ${id}::uuid FOR UPDATE`;
    return this.find(tx, id);
  }

  /** `engagedRole`: the role the switch now answers to (null when released). */
  setKillSwitch(tx: TenantTx, id: string, engaged: boolean, reason: string, engagedRole: Role | null): Promise<WorkspaceRecord> {
    return tx.workspace.update({
      where: { id },
      data: { killSwitchEngaged: engaged, killSwitchReason: reason, killSwitchEngagedRole: engagedRole, killSwitchChangedAt: new Date() },
      select: WORKSPACE_FIELDS,
    });
  }

  setLiveTrading(tx: TenantTx, id: string, enabled: boolean): Promise<WorkspaceRecord> {
    return tx.workspace.update({
      where: { id },
      data: { liveTradingEnabled: enabled, liveTradingChangedAt: new Date() },
      select: WORKSPACE_FIELDS,
    });
  }

  setRiskLimits(tx: TenantTx, id: string, limits: Prisma.WorkspaceUpdateInput): Promise<WorkspaceRecord> {
    return tx.workspace.update({ where: { id }, data: limits, select: WORKSPACE_FIELDS });
  }

  platformKillSwitch(tx: TenantTx): Promise<PlatformKillSwitchRecord> {
    return tx.platformSettings.findUniqueOrThrow({ where: { id: 1 }, select: PLATFORM_SWITCH_FIELDS });
  }

  setPlatformKillSwitch(tx: TenantTx, engaged: boolean, reason: string): Promise<PlatformKillSwitchRecord> {
    return tx.platformSettings.update({
      where: { id: 1 },
      data: { killSwitchEngaged: engaged, killSwitchReason: reason, killSwitchChangedAt: new Date() },
      select: PLATFORM_SWITCH_FIELDS,
    });
  }
}
