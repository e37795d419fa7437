import { Injectable } from '@nestjs/common';
import { byCreatedAt, PageRequest, TimeKey } from '../common/pagination';
import type { TenantTx } from '../database/tenant-db';
import type { Prisma, Route } from '../generated/prisma/client';
import type { LimitColumns } from './route-limits';

const LIMIT_FIELDS = {
  maxQuantity: true,
  maxNotional: true,
  maxOrdersPerMinute: true,
  maxSignalAgeSeconds: true,
  duplicateWindowSeconds: true,
  tradingWindows: true,
  blockExitsOutsideWindows: true,
  maxPosition: true,
  maxOpenPositions: true,
} as const;

@Injectable()
export class RoutesRepository {
  sourceExists(tx: TenantTx, id: string): Promise<boolean> {
    return tx.source.count({ where: { id, deletedAt: null } }).then((n) => n > 0);
  }

  activeConnectionExists(tx: TenantTx, id: string): Promise<boolean> {
    return tx.brokerConnection.count({ where: { id, status: 'active' } }).then((n) => n > 0);
  }

  /** The workspace's limits: the routes' defaults and ceilings. */
  workspaceLimits(tx: TenantTx, workspaceId: string): Promise<LimitColumns> {
    return tx.workspace.findUniqueOrThrow({ where: { id: workspaceId }, select: LIMIT_FIELDS });
  }

  create(tx: TenantTx, data: Prisma.RouteUncheckedCreateInput): Promise<Route> {
    return tx.route.create({ data });
  }

  list(tx: TenantTx, page: PageRequest<TimeKey>): Promise<Route[]> {
    return tx.route.findMany({ where: { deletedAt: null, ...byCreatedAt.after(page.after) }, orderBy: byCreatedAt.orderBy, take: page.limit + 1 });
  }

  find(tx: TenantTx, id: string): Promise<Route | null> {
    return tx.route.findFirst({ where: { id, deletedAt: null } });
  }

  update(tx: TenantTx, id: string, data: Prisma.RouteUncheckedUpdateInput): Promise<Route> {
    return tx.route.update({ where: { id }, data: { ...data, updatedAt: new Date() } });
  }
}
