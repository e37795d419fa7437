import { Injectable } from '@nestjs/common';
import type { TenantTx } from '../../database/tenant-db';
import type { Order } from '../../generated/prisma/client';
import type { ListOrdersDto } from './route.dto';

@Injectable()
export class OrdersRepository {
  list(tx: TenantTx, filter: ListOrdersDto): Promise<Order[]> {
    return tx.order.findMany({
      where: {
        ...(filter.signalId && { signalId: filter.signalId }),
        ...(filter.status && { status: filter.status }),
        ...(filter.before && { createdAt: { lt: new Date(filter.before) } }),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: filter.limit,
    });
  }

  find(tx: TenantTx, id: string): Promise<Order | null> {
    return tx.order.findUnique({ where: { id } });
  }

  ofSignal(tx: TenantTx, signalId: string): Promise<Order[]> {
    return tx.order.findMany({ where: { signalId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }
}
