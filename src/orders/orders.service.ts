import { Injectable } from '@nestjs/common';
import { byCreatedAt, ListRequest, Page, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { TenantDb, TenantTx } from '../database/tenant-db';
import type { Order, OrderFill, OrderTransition } from '../generated/prisma/client';
import type { AuthContext } from '../common/auth/auth-context';
import { OrdersRepository } from './orders.repository';
import type { OrderListFilter } from './order.dto';

export interface OrderView {
  id: string;
  signalId: string;
  routeId: string;
  connectionId: string;
  broker: string;
  clientOrderId: string;
  /** 0, or 0 then 1 for a reversal (close, then open). */
  leg: number;
  intent: string;
  symbol: string;
  side: string | null;
  type: string;
  quantity: string | null;
  limitPrice: string | null;
  stopPrice: string | null;
  /** Bracket legs as sent to the broker (distances already resolved to prices): null where absent. */
  brackets: { takeProfit: string | null; stopLoss: string | null; stopLossLimit: string | null; trailPercent: string | null; trailAmount: string | null } | null;
  status: string;
  reason: string | null;
  brokerOrderId: string | null;
  filledQuantity: string | null;
  averagePrice: string | null;
  attempts: number;
  /** Set on an order held for manual approval: when it expires unless approved, and when it was decided. */
  approval: { expiresAt: string; decidedAt: string | null } | null;
  timings: { routedAt: string; sentAt: string | null; acknowledgedAt: string | null };
}

/** One execution at the broker; `brokerFillId` is the broker's id (or, where the broker reports only cumulative fills, `cum:<filled so far>`). */
export interface FillView {
  brokerFillId: string;
  quantity: string;
  price: string;
  fee: string | null;
  filledAt: string;
}

/** A single order: its view, every fill, and every status change with its time (the lifecycle). */
export interface OrderDetailView extends OrderView {
  fills: FillView[];
  transitions: { from: string | null; to: string; at: string }[];
}

function toDetailView(o: Order & { fills: OrderFill[]; transitions: OrderTransition[] }): OrderDetailView {
  return {
    ...toOrderView(o),
    fills: o.fills.map((f) => ({ brokerFillId: f.brokerFillId, quantity: f.quantity.toString(), price: f.price.toString(), fee: f.fee?.toString() ?? null, filledAt: f.filledAt.toISOString() })),
    transitions: o.transitions.map((t) => ({ from: t.fromStatus, to: t.toStatus, at: t.at.toISOString() })),
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
    const order = await this.db.run(auth.workspaceId, (tx) => this.orders.find(tx, id));
    if (!order) throw Problem.notFound('Order');
    return toDetailView(order);
  }

  /** Inside a caller's tenant transaction. */
  async ofSignal(tx: TenantTx, signalId: string): Promise<OrderView[]> {
    return (await this.orders.ofSignal(tx, signalId)).map(toOrderView);
  }
}
