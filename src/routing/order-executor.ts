import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { BrokerAdapter, BrokerCredentials, BrokerLeg, BrokerName, OrderAck, OrderRequest, Position } from '../brokers/broker-adapter';
import { BrokerError } from '../brokers/broker-error';
import { BrokerRegistry } from '../brokers/broker-registry';
import { AuditWriter } from '../audit/audit-writer';
import { Pager } from '../audit/pager/pager';
import { LOGGER } from '../common/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { sent, TenantDb } from '../database/tenant-db';
import { KmsUnavailableError } from '../kms/kms-errors';
import { ConnectionTurns } from './connection-turns';
import { LossGuard } from './loss-guard';
import { recordLegs } from './order-state';
import { OrderSyncRepository } from './order-sync.repository';
import { CredentialGrant, CredentialOpener, RoutingContext } from './credential-opener';
import { absDecimal, isPositiveDecimal, parseDecimal, ZERO } from '../common/decimal';
import { RouteRules, sizeFromEquity } from './order-plan';
import { riskGate } from './risk-gate';
import { connectionRiskRefusal } from './risk/connection-switch';
import { orderBlockedEvent } from './risk/order-blocked';
import { PositionLimits, positionLimitRefusal } from './risk/position-limits';
import { OrderRow, RoutingRepository, TERMINAL_ORDER_STATUSES } from './routing.repository';

/** An earlier signal's order on the same connection is still in flight: this one must wait its turn. */
export class WaitForEarlierOrder extends Error {
  constructor(readonly connectionId: string) {
    super('an earlier order on this connection is still in flight');
  }
}

export interface ExecutionJob {
  id: string;
  workspaceId: string;
  /** True on the job's last allowed attempt: a retryable failure then becomes terminal. */
  finalAttempt: boolean;
}

/** The answer finishOrder records; `limit` names the risk limit that blocked the order at execution (audited); `legs` the bracket's legs the broker answered with. */
type Outcome = Parameters<RoutingRepository['finishOrder']>[2] & { limit?: string; legs?: BrokerLeg[] };

/** What execution needs of a route: its planning rules and the position limit percent_equity entries are sized under. */
export type ExecutedRoute = RouteRules & Pick<PositionLimits, 'maxPosition'> & { lossLimited?: boolean };

/**
 * How long an order waits in this process for an earlier order of its connection before asking the
 * database again anyway: a safety net only, the earlier order's executor hands the claim over (or its
 * release wakes the waiter), so a short poll would only add claims that find the connection busy.
 */
const LOCAL_TURN_POLL_MS = 2_000;
/**
 * A waiter only waits here while an order this process holds comes before it (that order's job is
 * running and will let it go), so this bound is a last resort, not the way a turn ends.
 */
const LOCAL_TURN_BUDGET_MS = 60_000;

/** What claiming an order decided. `go` carries the grant authorize() minted in the claim transaction. */
export type Claim =
  | { kind: 'done'; status: OrderRow['status'] }
  | { kind: 'wait' }
  | { kind: 'blocked' }
  | { kind: 'go'; grant: CredentialGrant; environment: 'paper' | 'live'; lookupFirst: boolean };

/** A claim made in the plan transaction: `failed` when it threw (rolled back to its savepoint; the plan committed). */
export type FoldedClaim = Claim | { kind: 'failed'; error: unknown };

/** The savepoint a claim in the plan transaction runs under. */
const FOLD_SAVEPOINT = 'folded_claim';
/** The savepoint of a claim's go path sent ahead of its decision (see submit()). */
const AHEAD_SAVEPOINT = 'claim_ahead';

export interface ExecuteOptions {
  /** A claim already made (and committed) in the plan transaction; `wait` means claim again in turn. */
  claimed?: FoldedClaim;
  /**
   * Settles the signal in the transaction that records this order's answer (the signal's last open
   * order), unless another order waits for this answer; `signalStatus` says whether it did.
   */
  settle?: (client: PoolClient) => Promise<string>;
}

/** What a claim needs of an order (the plan transaction claims one it has only just inserted). */
export type ClaimedOrder = Pick<OrderRow, 'id' | 'connectionId' | 'signalSeq'>;

export interface Executed {
  status: OrderRow['status'];
  /** The signal's status when `settle` ran with the answer. */
  signalStatus?: string;
}

/**
 * Places one order: claim it (lock the connection, keep signal order, re-check the risk gate,
 * authorise the credential — one transaction), decrypt, call the broker, record the answer.
 */
@Injectable()
export class OrderExecutor {
  /** Whose turn it is on each connection, among the orders this process holds (see SignalRouter). */
  readonly turns = new ConnectionTurns<FoldedClaim>();

  constructor(
    private readonly db: TenantDb,
    private readonly repository: RoutingRepository,
    private readonly opener: CredentialOpener,
    private readonly brokers: BrokerRegistry,
    private readonly pager: Pager,
    private readonly audit: AuditWriter,
    private readonly lossGuard: LossGuard,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly syncRepository: OrderSyncRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async execute(job: ExecutionJob, order: OrderRow, route: ExecutedRoute, options: ExecuteOptions = {}): Promise<Executed> {
    const claimed = options.claimed;
    if (claimed?.kind === 'failed') throw claimed.error;
    const claim = claimed && claimed.kind !== 'wait' ? claimed : await this.claimInTurn(job, order);
    if (claim.kind === 'done') return { status: claim.status };
    if (claim.kind === 'blocked') return { status: 'blocked' };

    const outcome = await this.callBroker(job, order, route, claim);
    // Pipelined: the answer, the settlement's read and its write go out without waiting on each other.
    // The next order of the connection waiting here is claimed in the same transaction, right after
    // this answer (it sees it): one commit hands the connection over.
    const next = this.turns.takeHandoff(order.connectionId);
    let handedOver: FoldedClaim | undefined;
    let signalStatus: string | undefined;
    let legFilled = false;
    try {
      signalStatus = await this.db.runPipelined(job.workspaceId, async (client) => {
        sent(this.repository.finishOrder(client, order.id, outcome));
        if (outcome.legs?.length) legFilled = await recordLegs(this.syncRepository, client, order.id, outcome.legs, this.config.orderSync.intervalMs);
        if (outcome.limit) sent(this.audit.recordRaw(client, orderBlockedEvent(job.id, order, outcome.limit, outcome.reason!, { signalSeq: order.signalSeq })));
        const settled = await options.settle?.(client);
        if (next) handedOver = await next.claimIn(client);
        return settled;
      });
    } catch (err) {
      next?.deliver(undefined);
      throw err;
    }
    next?.deliver(handedOver);
    // A fill that breaches the connection's loss limit acts now, not at the next signal.
    if (route.lossLimited && (legFilled || (outcome.filledQuantity && isPositiveDecimal(outcome.filledQuantity))))
      await this.lossGuard.afterFill(job.workspaceId, order.connectionId, job.id);
    if (outcome.status === 'failed') await this.deadLettered(job, order, outcome.reason ?? 'failed');
    return { status: outcome.status, signalStatus };
  }

  /**
   * Claims the order inside the caller's transaction: lock the connection, then in one read its
   * progress, whether an earlier signal's order of the connection is unanswered, and the risk gate;
   * mark it submitted and have the opener authorise the credential (and audit credential.use).
   * The grant is good only once this transaction commits. `credentialVersion`: see submit().
   */
  async claim(client: PoolClient, job: ExecutionJob, order: ClaimedOrder, savepoint?: string, credentialVersion?: number): Promise<Claim> {
    // Pipelined (runPipelined), the reads go out right behind the lock; the server still runs them after it is granted.
    const locked = sent(this.repository.lockConnection(client, order.connectionId, savepoint));
    const reading = this.repository.claimState(client, order);
    const context = { workspaceId: job.workspaceId, jobId: job.id, orderId: order.id, connectionId: order.connectionId };
    // With the version the plan read, the go path goes out now, under a savepoint any other decision rolls back to.
    let ahead: (() => Promise<CredentialGrant>) | undefined;
    if (credentialVersion !== undefined) {
      sent(client.query(`SAVEPOINT ${AHEAD_SAVEPOINT}`));
      ahead = this.submit(client, job, context, credentialVersion);
    }
    const { progress, intent, earlierOpen, priorLeg, switches, connection } = await reading;
    await locked;
    // An order awaiting approval is never sent from here: only its approval (status pending) lets it go.
    const done = TERMINAL_ORDER_STATUSES.has(progress.status) || progress.status === 'awaiting_approval';
    const blocked =
      done || earlierOpen ? undefined : (riskGate(switches, connection) ?? connectionRiskRefusal(connection!.risk, intent) ?? priorLegRefusal(priorLeg));
    // Any earlier attempt (a retry, or a second run of this job) may have reached the broker.
    const go = (grant: CredentialGrant): Claim => ({ kind: 'go', grant, environment: connection!.environment, lookupFirst: progress.attempts > 0 });
    if (ahead) {
      if (!done && !earlierOpen && !blocked && connection!.credentialVersion === credentialVersion) return go(await ahead());
      sent(client.query(`ROLLBACK TO SAVEPOINT ${AHEAD_SAVEPOINT}`));
    }
    if (done) return { kind: 'done', status: progress.status };
    if (earlierOpen) return { kind: 'wait' };
    if (blocked) {
      await this.repository.finishOrder(client, order.id, { status: 'blocked', reason: blocked });
      return { kind: 'blocked' };
    }
    return go(await this.submit(client, job, context, connection!.credentialVersion)());
  }

  /**
   * The go path's writes, sent at once: the order marked submitted, then the opener's context check (a
   * statement the server runs after this update) and credential.use for `credentialVersion` right behind
   * it. The returned function awaits their answers and yields the grant. claim() sends them either after
   * its decision (with the version read under the lock) or, with the version the plan read with the routes,
   * ahead of it (one round trip fewer): then it rolls them back on any other decision, or when the credential
   * was rotated since the plan read it, and the context's answer is looked at only on the go.
   */
  private submit(client: PoolClient, job: ExecutionJob, context: RoutingContext, credentialVersion: number): () => Promise<CredentialGrant> {
    const submitted = sent(this.repository.markSubmitted(client, context.orderId, job.id));
    const authorized = this.opener.request(client, context, credentialVersion);
    return async () => {
      await submitted;
      return authorized();
    };
  }

  /**
   * claim() inside another unit of work (the signal's plan, or the answer of the order this one waited
   * for), under a savepoint: if the claim fails, only the claim rolls back and the rest still commits
   * (a plan's orders keep their place in their connections' order; an answer is recorded).
   */
  async claimInPlan(client: PoolClient, job: ExecutionJob, order: ClaimedOrder, credentialVersion?: number): Promise<FoldedClaim> {
    try {
      return await this.claim(client, job, order, FOLD_SAVEPOINT, credentialVersion);
    } catch (error) {
      await client.query(`ROLLBACK TO SAVEPOINT ${FOLD_SAVEPOINT}`);
      return { kind: 'failed', error };
    }
  }

  /**
   * Claims the order once no earlier signal's order of its connection is unanswered. While the earlier
   * order is one this process holds, it waits here for it to be let go; otherwise it throws
   * WaitForEarlierOrder and the job waits in the queue.
   */
  private async claimInTurn(job: ExecutionJob, order: OrderRow): Promise<Exclude<Claim, { kind: 'wait' }>> {
    const deadline = Date.now() + LOCAL_TURN_BUDGET_MS;
    for (;;) {
      if (Date.now() > deadline) throw new WaitForEarlierOrder(order.connectionId);
      if (this.turns.holdsEarlier(order.connectionId, order.signalSeq)) {
        // An earlier order of the connection is this process's: its executor claims this one in the
        // transaction that records its own answer (or wakes this waiter). Checked and registered in one
        // synchronous step, so no release in between goes unnoticed.
        const handedOver = await this.turns.waitForTurn(order.connectionId, order.signalSeq, LOCAL_TURN_POLL_MS, (client) =>
          this.claimInPlan(client as PoolClient, job, order),
        );
        if (handedOver?.kind === 'failed') throw handedOver.error;
        if (handedOver && handedOver.kind !== 'wait') return handedOver;
        continue; // woken, timed out, or another earlier order is still open: look again
      }
      const version = this.turns.version(order.connectionId);
      const claim = await this.db.runPipelined(job.workspaceId, (client) => this.claim(client, job, order));
      if (claim.kind !== 'wait') return claim;
      // An order of the connection was let go (or taken up here) while the claim looked: look again.
      if (this.turns.version(order.connectionId) !== version || this.turns.holdsEarlier(order.connectionId, order.signalSeq)) continue;
      // The earlier order is not this process's (another worker, a job in backoff): wait in the queue.
      throw new WaitForEarlierOrder(order.connectionId);
    }
  }

  private async callBroker(
    job: ExecutionJob,
    order: OrderRow,
    route: ExecutedRoute,
    claim: { grant: CredentialGrant; environment: 'paper' | 'live'; lookupFirst: boolean },
  ): Promise<Outcome> {
    const { environment } = claim;
    const adapter = this.brokers.get(order.broker as BrokerName);
    let credentials: BrokerCredentials | undefined;
    try {
      credentials = await this.opener.open(claim.grant);
      if (claim.lookupFirst) {
        const existing = await adapter.findOrder(credentials, {
          clientOrderId: order.clientOrderId,
          symbol: order.symbol,
          environment,
          connectionId: order.connectionId,
        });
        if (existing) return fromAck(existing);
      }
      return await this.perform(adapter, credentials, order, route, environment);
    } catch (err) {
      return this.failure(job, order, err);
    } finally {
      credentials = undefined;
    }
  }

  private async perform(
    adapter: BrokerAdapter,
    credentials: BrokerCredentials,
    order: OrderRow,
    route: ExecutedRoute,
    environment: 'paper' | 'live',
  ): Promise<Outcome> {
    const base = { clientOrderId: order.clientOrderId, symbol: order.symbol, environment, connectionId: order.connectionId };
    if (order.intent === 'cancel') {
      const canceled = await adapter.cancelOpenOrders(credentials, order.symbol, environment, order.connectionId);
      return { status: 'accepted', reason: `canceled ${canceled} open order(s)` };
    }
    const position =
      order.intent === 'exit' || order.positionRule ? await adapter.getPosition(credentials, order.symbol, environment, order.connectionId) : undefined;
    let request: OrderRequest;
    if (order.intent === 'exit') {
      const close = exitSize(order, position!);
      if ('skip' in close) return { status: order.positionRule === 'if_any' ? 'skipped' : 'blocked', reason: close.skip };
      let quantity = close.quantity;
      // A full close first cancels the symbol's open orders: bracket legs hold the position at brokers that keep them
      // as orders (Alpaca refuses the close while they work), and resting entries would reopen it.
      if (order.positionRule !== 'reduce') await adapter.cancelOpenOrders(credentials, order.symbol, environment, order.connectionId);
      if (order.positionRule === 'reduce') {
        const asked = order.quantity ?? (await this.sizedFromEquity(adapter, credentials, order, route, environment));
        if (typeof asked !== 'string') return asked;
        if (parseDecimal(asked) < parseDecimal(quantity)) quantity = asked;
      }
      request = { ...base, type: 'market', side: close.side, quantity, referencePrice: order.referencePrice ?? undefined };
    } else {
      const side = order.side ?? (position ? directionOf(position) : undefined);
      const refused = position ? entryRefusal(order, position, side) : undefined;
      if (refused) return { status: 'blocked', reason: refused };
      const quantity = order.quantity ?? (await this.sizedFromEquity(adapter, credentials, order, route, environment));
      if (typeof quantity !== 'string') return quantity;
      // Sized only now (percent_equity), so planning could not hold it to maxPosition: the broker's position does.
      if (order.quantity === null && route.maxPosition !== null) {
        const held = position ?? (await adapter.getPosition(credentials, order.symbol, environment, order.connectionId));
        const book = { source: 'broker' as const, positions: new Map([[order.symbol, parseDecimal(held.quantity)]]), working: [] };
        const over = positionLimitRefusal(
          { intent: 'entry', symbol: order.symbol, side: side!, type: order.orderType, quantity },
          { maxPosition: route.maxPosition, maxOpenPositions: null, limitSources: route.limitSources },
          book,
          false,
        );
        if (over) return { status: 'blocked', reason: over.reason, limit: over.limit };
      }
      request = {
        ...base,
        side: side!,
        type: order.orderType,
        quantity,
        limitPrice: order.limitPrice ?? undefined,
        stopPrice: order.stopPrice ?? undefined,
        timeInForce: order.timeInForce ?? undefined,
        takeProfit: order.takeProfit ?? undefined,
        stopLoss: order.stopLoss ?? undefined,
        stopLossLimit: order.stopLossLimit ?? undefined,
        trailPercent: order.trailPercent ?? undefined,
        trailAmount: order.trailAmount ?? undefined,
        referencePrice: order.referencePrice ?? undefined,
      };
    }
    // The side is recorded too: exits and adds learn theirs from the position only now.
    return { ...fromAck(await adapter.placeOrder(credentials, request)), quantity: request.quantity, side: request.side };
  }

  /** percent_equity: the quantity from the account's equity, or the blocked outcome saying why there is none. */
  private async sizedFromEquity(
    adapter: BrokerAdapter,
    credentials: BrokerCredentials,
    order: OrderRow,
    route: ExecutedRoute,
    environment: 'paper' | 'live',
  ): Promise<string | Outcome> {
    const sized = sizeFromEquity(planOf(order), route, await adapter.getEquity(credentials, environment, order.connectionId));
    return 'reason' in sized ? { status: 'blocked', reason: sized.reason, limit: sized.limit } : sized.quantity;
  }

  /** A failed order is the dead-letter: on-call hears of it (deduplicated per connection). */
  async deadLettered(job: ExecutionJob, order: OrderRow, reason: string): Promise<void> {
    await this.pager
      .raise({
        workspaceId: job.workspaceId,
        rule: 'order.dead_lettered',
        resourceType: 'connection',
        resourceId: order.connectionId,
        summary: `Order ${order.clientOrderId} (${order.broker} ${order.symbol}) failed: ${reason.slice(0, 200)}`,
        details: { orderId: order.id, jobId: job.id, broker: order.broker, symbol: order.symbol },
      })
      .catch((err: Error) => this.logger.error({ orderId: order.id, err: err.message }, 'could not page the failed order'));
  }

  private failure(job: ExecutionJob, order: OrderRow, err: unknown): Outcome {
    if (err instanceof BrokerError && !err.retryable) return { status: 'rejected', reason: `${err.kind}: ${err.message}` };
    const retryable = err instanceof BrokerError || err instanceof KmsUnavailableError;
    const reason = err instanceof Error && (retryable || err.name.startsWith('Kms')) ? err.message : 'internal error';
    if (!retryable || job.finalAttempt) {
      this.logger.error({ orderId: order.id, jobId: job.id, reason }, 'order failed');
      return { status: 'failed', reason: job.finalAttempt && retryable ? `retries exhausted: ${reason}` : reason };
    }
    // Stays 'submitted': the retry asks the broker by client order id before placing again.
    throw err;
  }
}

/** A reversal opens only after its close went through (or had nothing to close). */
function priorLegRefusal(prior: { status: OrderRow['status']; reason: string | null } | null): string | undefined {
  if (!prior || ['accepted', 'partially_filled', 'filled', 'skipped'].includes(prior.status)) return undefined;
  return `close_not_done: the closing order of this reversal ended ${prior.status}${prior.reason ? ` (${prior.reason.slice(0, 300)})` : ''}; the opening order was not sent`;
}

function fromAck(ack: OrderAck): Outcome {
  return {
    status: ack.status,
    brokerOrderId: ack.brokerOrderId,
    filledQuantity: ack.filledQuantity,
    averagePrice: ack.averagePrice,
    reason: ack.reason,
    legs: ack.legs,
  };
}

/** What an exit closes: the whole position on the side it names (a `sell` exit closes a long), or why nothing. */
function exitSize(order: OrderRow, position: Position): { side: 'buy' | 'sell'; quantity: string } | { skip: string } {
  const held = parseDecimal(position.quantity);
  const wanted = order.side === 'sell' ? 'long' : order.side === 'buy' ? 'short' : 'any';
  const open = held > ZERO ? 'long' : held < ZERO ? 'short' : undefined;
  if (!open) return { skip: `no_position: there is no ${wanted === 'any' ? '' : `${wanted} `}${order.symbol} position to close` };
  if (wanted !== 'any' && wanted !== open) {
    return {
      skip: `no_position: there is no ${wanted} ${order.symbol} position to close (the position is ${open} ${absDecimal(position.quantity)}); nothing was sent`,
    };
  }
  return { side: open === 'long' ? 'sell' : 'buy', quantity: absDecimal(position.quantity) };
}

function directionOf(position: Position): 'buy' | 'sell' | undefined {
  const held = parseDecimal(position.quantity);
  return held > ZERO ? 'buy' : held < ZERO ? 'sell' : undefined;
}

/** Why an entry must not go, given the position: the route ignores entries in an open direction, or `add` has nothing to add to. */
function entryRefusal(order: OrderRow, position: Position, side: 'buy' | 'sell' | undefined): string | undefined {
  const direction = side === 'buy' ? 'long' : 'short';
  const sameOpen = side !== undefined && directionOf(position) === side;
  if (order.positionRule === 'if_open' && !sameOpen) {
    return `no_position: add needs an open ${side ? `${direction} ` : ''}${order.symbol} position to add to; there is none`;
  }
  if (order.positionRule === 'unless_open' && sameOpen) {
    return `position_open: a ${direction} ${order.symbol} position of ${absDecimal(position.quantity)} is already open and this route ignores entries in an open direction`;
  }
  return undefined;
}

function planOf(order: OrderRow) {
  return { intent: order.intent, symbol: order.symbol, type: order.orderType, referencePrice: order.referencePrice ?? undefined };
}
