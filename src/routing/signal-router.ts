import { Inject, Injectable } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import { LOGGER } from '../common/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { sent, TenantDb } from '../database/tenant-db';
import type { GivenUpJob, JobHandler } from '../queue/job-runner';
import type { JobPayloads } from '../queue/jobs';
import type { BrokerName } from '../brokers/broker-adapter';
import type { StopLoss, TakeProfit } from '../signals/signal-brackets';
import { clientOrderId } from './client-order-id';
import { LossGuard, LossVerdict } from './loss-guard';
import type { LossBreach } from './risk/loss-limits';
import { ExecutionJob, FoldedClaim, OrderClaimer, WaitForEarlierOrder } from './order-claim';
import { Executed, ExecutedRoute, OrderExecutor } from './order-executor';
import { OrderPlan, planOrders, RoutableSignal } from './order-plan';
import { routeRateLimit, signalRefusal } from './risk-gate';
import { effectiveApproval } from './risk/approval';
import { orderBlockedEvent } from './risk/order-blocked';
import { windowsRefusal, withWorkspaceLimits } from './risk/workspace-limits';
import { addWorking, ConnectionBook, positionLimitRefusal } from './risk/position-limits';
import { NewOrder, OrderRow, RouteRow, RoutingRepository, SignalRow, TERMINAL_ORDER_STATUSES } from './routing.repository';

const TERMINAL_SIGNAL = new Set(['routed', 'partially_routed', 'blocked', 'failed']);
/** How long a signal first waits before re-checking that an earlier order on its connection was answered. */
const TURN_WAIT_MS = 20;
/** Each further wait of the same job doubles up to this. */
const TURN_WAIT_MAX_MS = 1_000;

/** Waiting jobs back off so they never fill every worker slot and starve the signal they wait for (docs/resilience.md). */
function turnWaitMs(previousWaits: number): number {
  return Math.min(TURN_WAIT_MAX_MS, TURN_WAIT_MS * 2 ** Math.min(Math.max(previousWaits, 0), 10));
}

type RouteSignalJob = Job<JobPayloads['route-signal'], unknown, 'route-signal'>;

/**
 * Handles `route-signal`: plans one order per enabled route (idempotently: a re-run finds them),
 * executes them — in signal order per connection, connections in parallel — and settles the signal.
 */
@Injectable()
export class SignalRouter implements JobHandler<'route-signal'> {
  readonly jobName = 'route-signal' as const;
  readonly concurrency = 16;

  constructor(
    private readonly db: TenantDb,
    private readonly repository: RoutingRepository,
    private readonly claimer: OrderClaimer,
    private readonly executor: OrderExecutor,
    private readonly audit: AuditWriter,
    private readonly lossGuard: LossGuard,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async handle(job: RouteSignalJob, token?: string): Promise<unknown> {
    const { workspaceId, signalId, orderId } = job.data;
    const execution = { id: job.id!, workspaceId, finalAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) };
    // This process holds the signal's unfinished orders until each is finished (or handed back to the
    // queue): a later signal's order of the same connection waits for that here instead of polling the queue.
    const turns = this.claimer.turns;
    const held: OrderRow[] = [];
    const release = (order: OrderRow) => {
      const at = held.indexOf(order);
      if (at < 0) return;
      held.splice(at, 1);
      turns.release(order.connectionId, order.id);
    };
    let results: PromiseSettledResult<Executed>[];
    try {
      let claimed: FoldedClaim | undefined;
      const planned = await this.db.runPipelined(workspaceId, async (client) => {
        const plan = await this.plan(client, signalId, workspaceId, execution);
        // An approval's job sends the approved route's orders only: the signal's own job has the others.
        const approvedRoute = orderId === undefined ? undefined : (plan?.orders.find((o) => o.id === orderId)?.routeId ?? null);
        if (plan && approvedRoute) plan.orders = await this.recheckApproved(client, workspaceId, plan, approvedRoute, execution.id);
        // Held before the commit makes the orders visible, so a claim that sees them finds them held here.
        for (const order of plan?.orders ?? []) {
          if (approvedRoute !== undefined && order.routeId !== approvedRoute) continue;
          // An order awaiting approval is not this job's to send: its approval queues a job of its own.
          if (TERMINAL_ORDER_STATUSES.has(order.status) || order.status === 'awaiting_approval') continue;
          turns.hold(order.connectionId, order.id, order.signalSeq);
          held.push(order);
        }
        // A signal with one open order claims it in this same transaction (one commit instead of two),
        // unless an earlier order of its connection is held here: that one has to be answered first.
        if (plan?.claimed) claimed = await plan.claimed;
        else if (held.length === 1 && !turns.holdsEarlier(held[0].connectionId, held[0].signalSeq)) {
          claimed = await this.claimer.claimInPlan(client, execution, held[0]);
        }
        return plan;
      });
      if (!planned) return { skipped: true };
      // A loss limit the plan found breached with action `flatten`: its flatten is queued now that it is committed.
      for (const verdict of planned.losses.values()) await this.lossGuard.dispatch(verdict);

      // The last open order of the signal records its answer and the signal's settlement in one transaction.
      const settle = held.length === 1 ? (client: PoolClient) => this.settle(client, signalId) : undefined;
      const byConnection = new Map<string, OrderRow[]>();
      for (const order of held) byConnection.set(order.connectionId, [...(byConnection.get(order.connectionId) ?? []), order]);
      results = await Promise.allSettled(
        [...byConnection.values()].map(async (orders) => {
          let last: Executed = { status: 'pending' };
          for (const order of orders) {
            try {
              last = await this.send(execution, order, planned.routes.get(order.routeId)!, claimed, settle);
            } finally {
              release(order);
            }
          }
          return last;
        }),
      );
    } finally {
      for (const order of [...held]) release(order);
    }
    const waiting = results.find((r) => r.status === 'rejected' && r.reason instanceof WaitForEarlierOrder);
    const failed = results.find((r) => r.status === 'rejected' && !(r.reason instanceof WaitForEarlierOrder));
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (waiting) {
      // Not a failure: come back once the earlier order has been answered, without spending an attempt.
      // Every start that neither failed nor is this one was a wait (or a stall).
      await job.moveToDelayed(Date.now() + turnWaitMs(job.attemptsStarted - job.attemptsMade - 1), token);
      throw new DelayedError();
    }
    const settled = results.length === 1 && results[0].status === 'fulfilled' ? results[0].value.signalStatus : undefined;
    const status = settled ?? (await this.db.runPipelined(workspaceId, (client) => this.settle(client, signalId)));
    this.logger.info({ signalId, status, jobId: job.id }, 'signal routed');
    return { status };
  }

  /**
   * The queue gave the job up (attempts spent on errors that are neither the broker's nor an outage, or
   * its worker died on it too often): its signal still ends visibly. Orders never sent fail; an order sent
   * whose answer was never recorded fails too, saying its state at the broker is unknown (it would
   * otherwise hold its connection for good); each pages on-call. A signal with no orders fails with the
   * reason. Idempotent: a signal already terminal is left alone.
   */
  async deadLetter(job: GivenUpJob<'route-signal'>, because: string): Promise<void> {
    const { workspaceId, signalId } = job.data;
    const execution = { id: job.id!, workspaceId, finalAttempt: true };
    const why = `routing_failed: the routing job was given up (${because})`;
    const failed = await this.db.runPipelined(workspaceId, async (client) => {
      const state = await this.repository.planState(client, signalId);
      if (!state || TERMINAL_SIGNAL.has(state.signal.status)) return undefined;
      const orders = await this.repository.failOpenOrders(client, signalId, {
        pending: `${why}; never sent`,
        submitted: `${why} after sending the order; its state at the broker is unknown: check it by client order id`,
      });
      if (state.orders.length === 0) sent(this.repository.markSignal(client, signalId, 'failed', `${why} before planning its orders`));
      else await this.settle(client, signalId);
      return orders;
    });
    if (!failed) return;
    this.logger.error({ signalId, jobId: job.id, because, orders: failed.length }, 'routing job given up; signal dead-lettered');
    for (const order of failed)
      await this.executor.deadLettered(execution, order, order.status === 'submitted' ? `${why}; sent, state at the broker unknown` : `${why}; never sent`);
  }

  /** One order, in its connection's turn: claimed (or the plan's claim taken up), then placed at the broker unless the claim ended it. */
  private async send(
    job: ExecutionJob,
    order: OrderRow,
    route: ExecutedRoute,
    claimed: FoldedClaim | undefined,
    settle: ((client: PoolClient) => Promise<string>) | undefined,
  ): Promise<Executed> {
    const claim = await this.claimer.claimInTurn(job, order, claimed);
    if (claim.kind === 'done') return { status: claim.status };
    if (claim.kind === 'blocked') return { status: 'blocked' };
    return this.executor.execute(job, order, route, claim, { settle, handOver: () => this.claimer.turns.takeHandoff(order.connectionId) });
  }

  private async plan(client: PoolClient, signalId: string, workspaceId: string, execution: ExecutionJob) {
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
    const throttled = routeRateLimit(route.maxOrdersPerMinute, route.ordersLastMinute);
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
      if (!planned.ok) return { ...common, plan: { intent: 'entry', symbol, type: 'market' }, status: 'blocked', reason: planned.reason };
      const outside = windowsRefusal(route, planned.plan.intent, now);
      if (outside) return { ...common, plan: planned.plan, status: 'blocked', reason: outside, limit: 'tradingWindows' };
      if (loss && planned.plan.intent === 'entry') return { ...common, plan: planned.plan, status: 'blocked', reason: loss.reason, limit: loss.limit };
      const overLimit = book && positionLimitRefusal(planned.plan, route, book, closesFirst && leg > 0);
      if (overLimit) return { ...common, plan: planned.plan, status: 'blocked', ...overLimit };
      if (book && !throttled) addWorking(book, planned.plan);
      if (throttled) return { ...common, plan: planned.plan, status: 'blocked', reason: throttled };
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
  private async recheckApproved(
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

  private async settle(client: PoolClient, signalId: string): Promise<string> {
    const orders = await this.repository.ordersOfSignal(client, signalId);
    // Not done while an order waits for approval, or an approved one is still being sent by its own job: that job settles.
    if (orders.some((o) => o.status === 'awaiting_approval' || o.status === 'pending' || o.status === 'submitted')) return 'routing';
    // A skipped leg (a reversal's close with nothing to close) had nothing to do: it counts neither way.
    const counted = orders.filter((o) => o.status !== 'skipped');
    // Reached the broker and taken: the poller may already have moved an earlier order on (filled, canceled, expired).
    const placed = counted.filter((o) => PLACED.has(o.status) && !declined(o)).length;
    const blocked = counted.filter((o) => o.status === 'blocked' || declined(o)).length;
    const status = placed === counted.length ? 'routed' : placed > 0 ? 'partially_routed' : blocked === counted.length ? 'blocked' : 'failed';
    const reasons = counted.filter((o) => o.reason && (!PLACED.has(o.status) || declined(o))).map((o) => o.reason);
    // Sent without waiting: the unit of work (runPipelined) commits only once it succeeded.
    sent(this.repository.markSignal(client, signalId, status, reasons.length ? [...new Set(reasons)].join('; ').slice(0, 2000) : null));
    return status;
  }
}

const PLACED: ReadonlySet<string> = new Set(['accepted', 'partially_filled', 'filled', 'canceled', 'expired']);

/** Rejected by a reviewer or expired waiting for one: never sent (a broker's rejection or expiry was), so it counts as blocked. */
const declined = (o: OrderRow) => (o.status === 'rejected' || o.status === 'expired') && o.attempts === 0;

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
