import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { BrokerAdapter, BrokerCredentials, BrokerLeg, BrokerName, OrderAck, OrderRequest } from '../brokers/broker-adapter';
import { BrokerError } from '../brokers/broker-error';
import { BrokerRegistry } from '../brokers/broker-registry';
import { AuditWriter } from '../audit/audit-writer';
import { Pager } from '../audit/pager/pager';
import { LOGGER } from '../common/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { sent, TenantDb } from '../database/tenant-db';
import { KmsUnavailableError } from '../kms/kms-errors';
import type { TakenTurn } from './connection-turns';
import { LossGuard } from './loss-guard';
import { recordLegs } from './order-state';
import { OrderSyncRepository } from './order-sync.repository';
import { CredentialOpener } from './credential-opener';
import { isPositiveDecimal, parseDecimal } from '../common/decimal';
import { RouteRules, sizeFromEquity } from './order-plan';
import { directionOf, entryRefusal, exitSize } from './position-rules';
import { orderBlockedEvent } from './risk/order-blocked';
import { PositionLimits, positionLimitRefusal } from './risk/position-limits';
import type { ExecutionJob, GoClaim } from './order-claim';
import { OrderRow, RoutingRepository } from './routing.repository';

/** The answer finishOrder records; `limit` names the risk limit that blocked the order at execution (audited); `legs` the bracket's legs the broker answered with. */
type Outcome = Parameters<RoutingRepository['finishOrder']>[2] & { limit?: string; legs?: BrokerLeg[] };

/** What execution needs of a route: its planning rules and the position limit percent_equity entries are sized under. */
export type ExecutedRoute = RouteRules & Pick<PositionLimits, 'maxPosition'> & { lossLimited?: boolean };

export interface ExecuteOptions {
  /**
   * Settles the signal in the transaction that records this order's answer (the signal's last open
   * order), unless another order waits for this answer; `signalStatus` says whether it did.
   */
  settle?: (client: PoolClient) => Promise<string>;
  /** Takes the connection's next waiting order, whose claim then runs in the transaction that records this answer. */
  handOver?: () => TakenTurn<unknown> | undefined;
}

export interface Executed {
  status: OrderRow['status'];
  /** The signal's status when `settle` ran with the answer. */
  signalStatus?: string;
}

/** Places one claimed order: decrypt, call the broker, record the answer. */
@Injectable()
export class OrderExecutor {
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

  async execute(job: ExecutionJob, order: OrderRow, route: ExecutedRoute, claim: GoClaim, options: ExecuteOptions = {}): Promise<Executed> {
    const outcome = await this.callBroker(job, order, route, claim);
    // Pipelined: the answer, the settlement's read and its write go out without waiting on each other.
    // The next order of the connection waiting here is claimed in the same transaction, right after
    // this answer (it sees it): one commit hands the connection over.
    const next = options.handOver?.();
    let handedOver: unknown;
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

  private async callBroker(job: ExecutionJob, order: OrderRow, route: ExecutedRoute, claim: GoClaim): Promise<Outcome> {
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

function fromAck(ack: OrderAck): Outcome {
  return {
    status: ack.status,
    brokerOrderId: ack.brokerOrderId,
    filledQuantity: ack.filledQuantity,
    averagePrice: ack.averagePrice,
    reason: ack.reason,
    legs: ack.legs,
    symbol: ack.symbol,
  };
}

function planOf(order: OrderRow) {
  return { intent: order.intent, symbol: order.symbol, type: order.orderType, referencePrice: order.referencePrice ?? undefined };
}
