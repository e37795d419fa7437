import { Injectable } from '@nestjs/common';
import { Problem } from '../../common/problem';
import { TenantDb, TenantTx } from '../../database/tenant-db';
import type { Order } from '../../generated/prisma/client';
import type { AuthContext } from '../../workspaces/auth/auth-context';
import { OrdersRepository } from './orders.repository';
import type { ListOrdersDto } from './route.dto';

export interface OrderView {
  id: string;
  signalId: string;
  routeId: string;
  connectionId: string;
  broker: string;
  clientOrderId: string;
  intent: string;
  symbol: string;
  side: string | null;
  type: string;
  quantity: string | null;
  limitPrice: string | null;
  stopPrice: string | null;
  status: string;
  reason: string | null;
  brokerOrderId: string | null;
  filledQuantity: string | null;
  averagePrice: string | null;
  attempts: number;
  timings: { routedAt: string; sentAt: string | null; acknowledgedAt: string | null };
}

export function toOrderView(o: Order): OrderView {
  return {
    id: o.id,
    signalId: o.signalId,
    routeId: o.routeId,
    connectionId: o.connectionId,
    broker: o.broker,
    clientOrderId: o.clientOrderId,
    intent: o.intent,
    symbol: o.symbol,
    side: o.side,
    type: o.orderType,
    quantity: o.quantity?.toString() ?? null,
    limitPrice: o.limitPrice?.toString() ?? null,
    stopPrice: o.stopPrice?.toString() ?? null,
    status: o.status,
    reason: o.reason,
    brokerOrderId: o.brokerOrderId,
    filledQuantity: o.filledQuantity?.toString() ?? null,
    averagePrice: o.averagePrice?.toString() ?? null,
    attempts: o.attempts,
    timings: { routedAt: o.createdAt.toISOString(), sentAt: o.sentAt?.toISOString() ?? null, acknowledgedAt: o.acknowledgedAt?.toISOString() ?? null },
  };
}

/** Order reads for the API; also used by the signals read side to list a signal's orders. */
@Injectable()
export class OrdersService {
  constructor(
    private readonly db: TenantDb,
    private readonly orders: OrdersRepository,
  ) {}

  async list(auth: AuthContext, filter: ListOrdersDto): Promise<OrderView[]> {
    return (await this.db.run(auth.workspaceId, (tx) => this.orders.list(tx, filter))).map(toOrderView);
  }

  async get(auth: AuthContext, id: string): Promise<OrderView> {
    const order = await this.db.run(auth.workspaceId, (tx) => this.orders.find(tx, id));
    if (!order) throw Problem.notFound('Order');
    return toOrderView(order);
  }

  /** Inside a caller's tenant transaction. */
  async ofSignal(tx: TenantTx, signalId: string): Promise<OrderView[]> {
    return (await this.orders.ofSignal(tx, signalId)).map(toOrderView);
  }
}
