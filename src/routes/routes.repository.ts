import { Injectable } from '@nestjs/common';
import { byCreatedAt, PageRequest, TimeKey } from '../common/pagination';
import type { TenantTx } from '../database/tenant-db';
import type { Prisma, Route } from '../generated/prisma/client';

@Injectable()
export class RoutesRepository {
  sourceExists(tx: TenantTx, id: string): Promise<boolean> {
    return tx.source.count({ where: { id, deletedAt: null } }).then((n) => n > 0);
  }

  activeConnectionExists(tx: TenantTx, id: string): Promise<boolean> {
    return tx.brokerConnection.count({ where: { id, status: 'active' } }).then((n) => n > 0);
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
