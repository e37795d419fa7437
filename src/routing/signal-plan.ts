import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { AuditWriter } from '../audit/audit-writer';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { sent } from '../database/tenant-db';
import type { BrokerName } from '../brokers/broker-adapter';
import type { StopLoss, TakeProfit } from '../signals/signal-brackets';
import { clientOrderId } from './client-order-id';
import { LossGuard, LossVerdict } from './loss-guard';
import type { LossBreach } from './risk/loss-limits';
import { ExecutionJob, FoldedClaim, OrderClaimer } from './order-claim';
import { OrderPlan, planOrders, RoutableSignal } from './order-plan';
import { routeRateLimit, signalRefusal } from './risk-gate';
import { effectiveApproval } from './risk/approval';
import { orderBlockedEvent } from './risk/order-blocked';
import { windowsRefusal, withWorkspaceLimits } from './risk/workspace-limits';
import { addWorking, ConnectionBook, positionLimitRefusal } from './risk/position-limits';
import { optionRuleOf } from '../signals/signal-options';
import { NewOrder, OrderRow, RouteRow, RoutingRepository, SignalRow } from './routing.repository';

export const TERMINAL_SIGNAL = new Set(['routed', 'partially_routed', 'blocked', 'failed']);

/**
 * The plan transaction of a signal: its orders, one per leg of each enabled route (pure legs from
 * order-plan.ts, the route's risk limits on top), inserted idempotently; an approved route's legs checked again.
 */
@Injectable()
export class SignalPlanner {
  constructor(
    private readonly repository: RoutingRepository,
    private readonly claimer: OrderClaimer,
    private readonly audit: AuditWriter,
    private readonly lossGuard: LossGuard,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async plan(client: PoolClient, signalId: string, workspaceId: string, execution: ExecutionJob) {
    const state = await this.repository.planState(client, signalId);
    if (!state || TERMINAL_SIGNAL.has(state.signal.status)) return undefined;
    const { signal } = state;
    const routes = state.routes.map(withWorkspaceLimits);
    let orders = state.orders;
    let claimed: Promise<FoldedClaim> | undefined;
    let losses = new Map<string, LossVerdict>();
    // A re-run (the job waited its turn in the queue) finds the signal routing already: nothing to write.
    let routing = signal.status === 'routing';
    if (orders.length === 0 && routes.length > 0) {
      const now = Date.now();
      const books = await this.books(client, routes);
      losses = await this.losses(client, workspaceId, routes, execution.id);
      const planned = routes.flatMap((route) => this.newOrders(signal, route, now, books.get(route.connectionId), losses.get(route.connectionId)?.breach));
      const inserted = sent(this.repository.insertOrdersAndMarkRouting(client, workspaceId, signal, planned));
      // A single pending order is claimed right behind its insert (pipelined: no round trip in between),
      // unless an earlier order of its connection is held here.
      const only = planned.length === 1 && planned[0].status === 'pending' ? planned[0] : undefined;
      if (only && !this.claimer.turns.holdsEarlier(only.connectionId, signal.seq)) {
        const order = { id: only.id, connectionId: only.connectionId, signalSeq: signal.seq };
        const route = routes.find((r) => r.id === only.routeId)!;
        claimed = sent(this.claimer.claimInPlan(client, execution, order, route.credentialVersion));
      }
      orders = await inserted;
      routing = true;
      // Risk-limit blocks are audited with their reason, in the transaction that records them (never under the
      // claim's savepoint above: a claim in the plan is made only for a single pending order).
      if (orders.length === planned.length) {
        for (const o of planned) {
          if (o.limit)
            sent(this.audit.recordRaw(client, orderBlockedEvent(execution.id, { ...o, symbol: o.plan.symbol }, o.limit, o.reason!, { signalId: signal.id })));
        }
      }
      // Fewer than planned: another run of this job inserted them while this one waited for the signal
      // lock; the claim above was for an order id that does not exist (it failed and rolled back).
      if (orders.length !== planned.length) {
        if (claimed) await claimed;
        claimed = undefined;
        orders = await this.repository.ordersOfSignal(client, signalId);
      }
    }
    if (orders.length === 0) {
      await this.repository.markSignal(client, signalId, 'blocked', 'no_routes: the source has no enabled routes');
      return undefined;
    }
    if (!routing) await this.repository.markSignal(client, signalId, 'routing');
    return { orders, routes: new Map<string, RouteRow>(routes.map((r) => [r.id, r])), claimed, losses };
  }

  /**
   * One order per leg (a reversal has two: close, then open), each with its own deterministic client order id.
   * A stale or duplicate signal is one blocked order for the route; a trading window blocks leg by leg
   * (entries, and exits only where the route says so).
   */
  private newOrders(signal: SignalRow, route: RouteRow, now: number, book: ConnectionBook | undefined, loss: LossBreach | undefined): NewOrder[] {
    const throttled = routeRateLimit(route);
    const refused = signalRefusal(signal, route, now);
    const legs = planOrders(toRoutable(signal), route, route.broker as BrokerName);
    const closesFirst = legs.length > 1 && legs[0].ok && legs[0].plan.intent === 'exit';
    return (refused ? legs.slice(0, 1) : legs).map((planned, leg): NewOrder => {
      const common = {
        id: randomUUID(),
        routeId: route.id,
        connectionId: route.connectionId,
        broker: route.broker,
        leg,
        clientOrderId: clientOrderId(signal.id, route.id, leg),
      };
      const symbol = planned.ok ? planned.plan.symbol : planned.symbol;
      if (refused)
        return {
          ...common,
          plan: { intent: planned.ok ? planned.plan.intent : 'entry', symbol, type: 'market' },
          status: 'blocked',
          reason: refused.reason,
          limit: refused.limit,
        };
      if (!planned.ok) return { ...common, plan: { intent: 'entry', symbol, type: 'market' }, status: 'blocked', reason: planned.reason, limit: planned.limit };
      const outside = windowsRefusal(route, planned.plan.intent, now);
      if (outside) return { ...common, plan: planned.plan, status: 'blocked', reason: outside, limit: 'tradingWindows' };
      if (loss && planned.plan.intent === 'entry') return { ...common, plan: planned.plan, status: 'blocked', reason: loss.reason, limit: loss.limit };
      const overLimit = book && positionLimitRefusal(planned.plan, route, book, closesFirst && leg > 0);
      if (overLimit) return { ...common, plan: planned.plan, status: 'blocked', ...overLimit };
      if (book && !throttled) addWorking(book, planned.plan);
      if (throttled) return { ...common, plan: planned.plan, status: 'blocked', reason: throttled, limit: 'maxOrdersPerMinute' };
      // Held for a person after every plan-time check passed; a cancel only takes orders off, so it never waits.
      const approval = planned.plan.intent === 'cancel' ? undefined : effectiveApproval(route.approval, route.workspaceApproval);
      if (approval) return { ...common, plan: planned.plan, status: 'awaiting_approval', approvalExpiresAt: new Date(now + approval.expirySeconds * 1000) };
      return { ...common, plan: planned.plan, status: 'pending' };
    });
  }

  /**
   * An approved order's time-dependent limits, looked at again now (it may have waited minutes): trading windows, the
   * connection's loss limits, maxPosition and maxOpenPositions. The signal's age is not (it was checked when the order
   * was planned; the wait was the reviewer's); kill switches are checked by the claim as for every order. A refused
   * leg ends `blocked` with the reason, audited; the orders are returned as they now are.
   */
  async recheckApproved(
    client: PoolClient,
    workspaceId: string,
    plan: { orders: OrderRow[]; routes: Map<string, RouteRow>; losses: Map<string, LossVerdict> },
    routeId: string,
    jobId: string,
  ): Promise<OrderRow[]> {
    const route = plan.routes.get(routeId);
    const approved = plan.orders.filter((o) => o.routeId === routeId && o.status === 'pending' && o.attempts === 0);
    if (!route || approved.length === 0) return plan.orders;
    const now = Date.now();
    const entries = approved.some((o) => o.intent === 'entry');
    const loss = entries && route.lossLimited ? await this.lossGuard.look(client, workspaceId, route.connectionId, jobId) : undefined;
    if (loss) plan.losses.set(route.connectionId, loss);
    let book: ConnectionBook | undefined;
    if (entries && (route.maxPosition !== null || route.maxOpenPositions !== null)) {
      sent(this.repository.lockConnection(client, route.connectionId));
      book = await this.repository.connectionBook(
        client,
        route.connectionId,
        this.config.snapshot.maxAgeMs,
        approved.map((o) => o.id),
      );
    }
    const closesFirst = approved.length > 1 && approved[0].intent === 'exit';
    const blocked = new Map<string, { reason: string; limit: string }>();
    for (const order of approved) {
      const leg: OrderPlan = {
        intent: order.intent,
        symbol: order.symbol,
        side: order.side ?? undefined,
        quantity: order.quantity ?? undefined,
        type: order.orderType,
      };
      const outside = windowsRefusal(route, leg.intent, now);
      const refusal = outside
        ? { reason: outside, limit: 'tradingWindows' }
        : loss?.breach && leg.intent === 'entry'
          ? { reason: loss.breach.reason, limit: loss.breach.limit }
          : book && positionLimitRefusal(leg, route, book, closesFirst && order.leg > 0);
      if (!refusal) {
        if (book) addWorking(book, leg);
        continue;
      }
      const reason = `${refusal.reason} (checked again at approval)`;
      blocked.set(order.id, { reason, limit: refusal.limit });
      sent(this.repository.finishOrder(client, order.id, { status: 'blocked', reason }));
      sent(this.audit.recordRaw(client, orderBlockedEvent(jobId, order, refusal.limit, reason, { signalSeq: order.signalSeq, at: 'approval' })));
    }
    return plan.orders.map((o) => (blocked.has(o.id) ? { ...o, status: 'blocked', reason: blocked.get(o.id)!.reason } : o));
  }

  /**
   * The books of the connections whose routes have position limits. Their connection locks are taken first,
   * in id order, so plans of one connection read each other's orders instead of racing past the limit.
   */
  private async books(client: PoolClient, routes: RouteRow[]): Promise<Map<string, ConnectionBook>> {
    const limited = [...new Set(routes.filter((r) => r.maxPosition !== null || r.maxOpenPositions !== null).map((r) => r.connectionId))].sort();
    const books = new Map<string, ConnectionBook>();
    for (const id of limited) {
      sent(this.repository.lockConnection(client, id));
      books.set(id, await this.repository.connectionBook(client, id, this.config.snapshot.maxAgeMs));
    }
    return books;
  }

  /** A look at the loss limits of each connection whose routes' connection sets them, once per connection (in id order). */
  private async losses(client: PoolClient, workspaceId: string, routes: RouteRow[], actorId: string): Promise<Map<string, LossVerdict>> {
    const limited = [...new Set(routes.filter((r) => r.lossLimited).map((r) => r.connectionId))].sort();
    const verdicts = new Map<string, LossVerdict>();
    for (const id of limited) verdicts.set(id, await this.lossGuard.look(client, workspaceId, id, actorId));
    return verdicts;
  }
}

/** The validated payload the api stored; field names follow the TradingView-compatible body. */
function toRoutable(signal: SignalRow): RoutableSignal {
  const p = signal.payload as Record<string, string | number | undefined>;
  return {
    id: signal.id,
    seq: signal.seq,
    ticker: String(p.ticker),
    action: p.action as RoutableSignal['action'],
    sentiment: p.sentiment as RoutableSignal['sentiment'],
    quantity: decimal(p.quantity),
    orderType: (p.orderType ?? 'market') as RoutableSignal['orderType'],
    limitPrice: decimal(p.limitPrice),
    stopPrice: decimal(p.stopPrice),
    price: decimal(p.price),
    timeInForce: p.timeInForce as RoutableSignal['timeInForce'],
    ...brackets(p.takeProfit, p.stopLoss),
    option: optionRuleOf(p),
  };
}

/** Bracket legs as stored: objects, or bare prices in payloads stored before they could be objects. */
function brackets(takeProfit: unknown, stopLoss: unknown): Pick<RoutableSignal, 'takeProfit' | 'stopLoss'> {
  const bare = (v: unknown) => typeof v === 'string' || typeof v === 'number';
  return {
    takeProfit: bare(takeProfit) ? { limitPrice: decimal(takeProfit as string | number) } : (takeProfit as TakeProfit | undefined),
    stopLoss: bare(stopLoss) ? { type: 'stop', stopPrice: decimal(stopLoss as string | number) } : (stopLoss as StopLoss | undefined),
  };
}

/** Numbers in the stored payload as plain decimal strings (no exponent notation). */
function decimal(value: string | number | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'number' ? value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 12 }) : value;
}
