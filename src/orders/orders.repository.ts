import { Injectable } from '@nestjs/common';
import { byCreatedAt, PageRequest, TimeKey } from '../common/pagination';
import type { TenantTx } from '../database/tenant-db';
import type { Order, OrderFill, OrderTransition } from '../generated/prisma/client';
import type { OrderListFilter } from './order.dto';

@Injectable()
export class OrdersRepository {
  list(tx: TenantTx, filter: OrderListFilter, page: PageRequest<TimeKey>): Promise<Order[]> {
    return tx.order.findMany({
      where: { signalId: filter.signalId, parentOrderId: filter.parentOrderId ?? null, status: filter.status, ...byCreatedAt.after(page.after) },
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    });
  }

  find(tx: TenantTx, id: string): Promise<(Order & { fills: OrderFill[]; transitions: OrderTransition[] }) | null> {
    return tx.order.findUnique({
      where: { id },
      include: { fills: { orderBy: [{ filledAt: 'asc' }, { recordedAt: 'asc' }] }, transitions: { orderBy: { at: 'asc' } } },
    });
  }

  /** The bracket legs of an entry, take-profit first. */
  legsOf(tx: TenantTx, parentOrderId: string): Promise<Order[]> {
    return tx.order.findMany({ where: { parentOrderId }, orderBy: [{ bracketRole: 'desc' }, { createdAt: 'asc' }, { id: 'asc' }] });
  }

  /** The orders the signal's routes planned (their bracket legs are shown under each order). */
  ofSignal(tx: TenantTx, signalId: string): Promise<Order[]> {
    return tx.order.findMany({ where: { signalId, parentOrderId: null }, orderBy: [{ createdAt: 'asc' }, { leg: 'asc' }, { id: 'asc' }] });
  }

  /** Every fill of the connection's or the route's orders, oldest first, with what P&L reads of its order. */
  fillsOf(tx: TenantTx, scope: { connectionId: string } | { routeId: string }) {
    return tx.orderFill.findMany({
      where: { order: scope },
      select: { quantity: true, price: true, fee: true, order: { select: { symbol: true, side: true } } },
      orderBy: [{ filledAt: 'asc' }, { recordedAt: 'asc' }, { id: 'asc' }],
    });
  }

  async scopeExists(tx: TenantTx, scope: { connectionId: string } | { routeId: string }): Promise<boolean> {
    const count =
      'connectionId' in scope
        ? await tx.brokerConnection.count({ where: { id: scope.connectionId } })
        : await tx.route.count({ where: { id: scope.routeId, deletedAt: null } });
    return count > 0;
  }
}
