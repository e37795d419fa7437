import { Inject, Injectable } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { sent, TenantDb } from '../database/tenant-db';
import type { GivenUpJob, JobHandler } from '../queue/job-runner';
import type { JobPayloads } from '../queue/jobs';
import { LossGuard } from './loss-guard';
import { ExecutionJob, FoldedClaim, OrderClaimer, WaitForEarlierOrder } from './order-claim';
import { Executed, ExecutedRoute, OrderExecutor } from './order-executor';
import { OrderRow, RoutingRepository, TERMINAL_ORDER_STATUSES } from './routing.repository';
import { SignalPlanner, TERMINAL_SIGNAL } from './signal-plan';

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
    private readonly planner: SignalPlanner,
    private readonly claimer: OrderClaimer,
    private readonly executor: OrderExecutor,
    private readonly lossGuard: LossGuard,
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
        const plan = await this.planner.plan(client, signalId, workspaceId, execution);
        // An approval's job sends the approved route's orders only: the signal's own job has the others.
        const approvedRoute = orderId === undefined ? undefined : (plan?.orders.find((o) => o.id === orderId)?.routeId ?? null);
        if (plan && approvedRoute) plan.orders = await this.planner.recheckApproved(client, workspaceId, plan, approvedRoute, execution.id);
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
    if (claimed?.kind === 'failed') throw claimed.error;
    const claim = claimed && claimed.kind !== 'wait' ? claimed : await this.claimer.claimInTurn(job, order);
    if (claim.kind === 'done') return { status: claim.status };
    if (claim.kind === 'blocked') return { status: 'blocked' };
    return this.executor.execute(job, order, route, claim, { settle, handOver: () => this.claimer.turns.takeHandoff(order.connectionId) });
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
