import { Injectable } from '@nestjs/common';
import { byCreatedAt, ListRequest, Page, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { TenantDb, TenantTx } from '../database/tenant-db';
import type { Order, OrderFill, OrderTransition } from '../generated/prisma/client';
import type { AuthContext } from '../common/auth/auth-context';
import type { BracketRole } from '../brokers/broker-adapter';
import { OrdersRepository } from './orders.repository';
import type { OrderDetailView, OrderListFilter, OrderView } from './order.dto';

function toDetailView(o: Order & { fills: OrderFill[]; transitions: OrderTransition[] }, legs: Order[]): OrderDetailView {
  return {
    ...toOrderView(o),
    fills: o.fills.map((f) => ({
      brokerFillId: f.brokerFillId,
      quantity: f.quantity.toString(),
      price: f.price.toString(),
      fee: f.fee?.toString() ?? null,
      filledAt: f.filledAt.toISOString(),
    })),
    transitions: o.transitions.map((t) => ({ from: t.fromStatus, to: t.toStatus, at: t.at.toISOString() })),
    legs: legs.map((l) => ({
      id: l.id,
      role: l.bracketRole as BracketRole,
      status: l.status,
      filledQuantity: l.filledQuantity?.toString() ?? null,
      averagePrice: l.averagePrice?.toString() ?? null,
    })),
  };
}

export function toOrderView(o: Order): OrderView {
  return {
    id: o.id,
    signalId: o.signalId,
    routeId: o.routeId,
    connectionId: o.connectionId,
    broker: o.broker,
    clientOrderId: o.clientOrderId,
    leg: o.leg,
    intent: o.intent,
    symbol: o.symbol,
    side: o.side,
    type: o.orderType,
    quantity: o.quantity?.toString() ?? null,
    limitPrice: o.limitPrice?.toString() ?? null,
    stopPrice: o.stopPrice?.toString() ?? null,
    brackets: bracketsOf(o),
    bracketLeg: o.parentOrderId ? { parentOrderId: o.parentOrderId, role: o.bracketRole as BracketRole } : null,
    status: o.status,
    reason: o.reason,
    brokerOrderId: o.brokerOrderId,
    filledQuantity: o.filledQuantity?.toString() ?? null,
    averagePrice: o.averagePrice?.toString() ?? null,
    attempts: o.attempts,
    approval: o.approvalExpiresAt ? { expiresAt: o.approvalExpiresAt.toISOString(), decidedAt: o.approvalDecidedAt?.toISOString() ?? null } : null,
    timings: { routedAt: o.createdAt.toISOString(), sentAt: o.sentAt?.toISOString() ?? null, acknowledgedAt: o.acknowledgedAt?.toISOString() ?? null },
  };
}

function bracketsOf(o: Order): OrderView['brackets'] {
  const legs = { takeProfit: o.takeProfit, stopLoss: o.stopLoss, stopLossLimit: o.stopLossLimit, trailPercent: o.trailPercent, trailAmount: o.trailAmount };
  if (Object.values(legs).every((v) => v === null)) return null;
  return Object.fromEntries(Object.entries(legs).map(([k, v]) => [k, v?.toString() ?? null])) as NonNullable<OrderView['brackets']>;
}

/** Order reads for the API; also used by the signals read side to list a signal's orders. */
@Injectable()
export class OrdersService {
  constructor(
    private readonly db: TenantDb,
    private readonly orders: OrdersRepository,
  ) {}

  async list(auth: AuthContext, { filter, page }: ListRequest<OrderListFilter, TimeKey>): Promise<Page<OrderView>> {
    const rows = await this.db.run(auth.workspaceId, (tx) => this.orders.list(tx, filter, page));
    return toPage(rows, page, byCreatedAt, toOrderView);
  }

  async get(auth: AuthContext, id: string): Promise<OrderDetailView> {
    const found = await this.db.run(auth.workspaceId, async (tx) => {
      const order = await this.orders.find(tx, id);
      return order && { order, legs: await this.orders.legsOf(tx, id) };
    });
    if (!found) throw Problem.notFound('Order');
    return toDetailView(found.order, found.legs);
  }

  /** Inside a caller's tenant transaction. */
  async ofSignal(tx: TenantTx, signalId: string): Promise<OrderView[]> {
    return (await this.orders.ofSignal(tx, signalId)).map(toOrderView);
  }
}
