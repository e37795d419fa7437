import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import type { BrokerAdapter, BrokerCredentials, BrokerName } from '../brokers/broker-adapter';
import { BrokerError } from '../brokers/broker-error';
import { BrokerRegistry } from '../brokers/broker-registry';
import { absDecimal } from '../common/decimal';
import { LOGGER } from '../common/logger';
import { TenantDb } from '../database/tenant-db';
import { KmsUnavailableError } from '../kms/kms-errors';
import type { GivenUpJob, JobHandler } from '../queue/job-runner';
import type { JobPayloads } from '../queue/jobs';
import { CredentialOpener, TaskContext } from './credential-opener';
import { ConnectionTasksRepository, FlattenTarget } from './connection-tasks.repository';

type FlattenJob = Job<JobPayloads['flatten-connection'], unknown, 'flatten-connection'>;

/**
 * A closing order's id at the broker: derived from (flatten, connection, symbol), so every retry or redelivery of
 * the job sends the same id and the broker's duplicate check (or our lookup first) keeps it to one close.
 * 32 characters of [A-Za-z0-9_-]: within every supported broker's rules.
 */
export function flattenClientOrderId(flattenId: string, connectionId: string, symbol: string): string {
  return `fl${createHash('sha256').update(`${flattenId}:${connectionId}:${symbol}`).digest('base64url').slice(0, 30)}`;
}

/** A close still working after its first answer (a market order the broker has not reported filled yet) is asked again this often, this many times. */
const FOLLOW_UP_MS = 200;
const FOLLOW_UPS = 5;
const WORKING = new Set(['accepted', 'partially_filled']);

interface FlattenResult {
  canceledOrders: number;
  closed: number;
  refusals: string[];
}

/**
 * Handles `flatten-connection`: cancels the connection's open orders (the cancel path `cancel` signals use, per
 * symbol of its working orders and positions), then closes every open position with a market order. Flatten
 * orders are exits: no kill switch or live-trading flag stops them (they only take risk off). The credential is
 * opened with purpose `flatten`, only while this flatten of the connection is unfinished.
 */
@Injectable()
export class ConnectionFlattener implements JobHandler<'flatten-connection'> {
  readonly jobName = 'flatten-connection' as const;
  readonly concurrency = 4;

  constructor(
    private readonly db: TenantDb,
    private readonly repository: ConnectionTasksRepository,
    private readonly opener: CredentialOpener,
    private readonly brokers: BrokerRegistry,
    private readonly audit: AuditWriter,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** One flatten of a connection at a time, across workers: the next one reads the positions this one left. */
  async handle(job: FlattenJob): Promise<unknown> {
    const { workspaceId, connectionId } = job.data;
    return this.db.runRaw(workspaceId, async (lock) => {
      await this.repository.lockFlattens(lock, connectionId);
      return this.flattenOnce(job);
    });
  }

  private async flattenOnce(job: FlattenJob): Promise<unknown> {
    const { workspaceId, flattenId, connectionId } = job.data;
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const context: TaskContext = { workspaceId, jobId: job.id!, connectionId, purpose: 'flatten', taskId: flattenId };
    const taken = await this.db.runRaw(workspaceId, async (client) => {
      const target = await this.repository.takeFlatten(client, flattenId, connectionId);
      if (!target || target.status === 'done' || target.status === 'failed') return undefined;
      if (target.connectionStatus !== 'active') {
        await this.finish(client, job, { status: 'failed', error: 'connection_revoked: the connection was revoked before it was flattened' });
        return undefined;
      }
      await this.repository.markFlattenRunning(client, flattenId, connectionId);
      return { target, grant: await this.opener.authorizeTask(client, context) };
    });
    if (!taken) return { skipped: true };

    let credentials: BrokerCredentials | undefined;
    try {
      credentials = await this.opener.open(taken.grant);
      const result = await this.flatten(job, this.brokers.get(taken.target.broker as BrokerName), credentials, taken.target);
      const error = result.refusals.length ? result.refusals.join('; ') : undefined;
      await this.db.runRaw(workspaceId, (client) => this.finish(client, job, { status: error ? 'failed' : 'done', closed: result.closed, error }));
      return { canceledOrders: result.canceledOrders, closed: result.closed };
    } catch (err) {
      const retryable = (err instanceof BrokerError && err.retryable) || err instanceof KmsUnavailableError;
      // Stays running: the next attempt asks the broker by each close's client order id before sending anything.
      if (retryable && !finalAttempt) throw err;
      const reason = err instanceof BrokerError ? `${err.kind}: ${err.message}` : retryable ? (err as Error).message : 'internal error';
      this.logger.error({ flattenId, connectionId, reason }, 'flatten failed');
      await this.db.runRaw(workspaceId, (client) =>
        this.finish(client, job, { status: 'failed', error: finalAttempt && retryable ? `retries exhausted: ${reason}` : reason }),
      );
      return { failed: true };
    } finally {
      credentials = undefined;
    }
  }

  /** The queue gave the job up (its worker died on it too often, or a bug): the connection's part ends failed, visibly. */
  async deadLetter(job: GivenUpJob<'flatten-connection'>, because: string): Promise<void> {
    const { workspaceId, flattenId, connectionId } = job.data;
    await this.db.runRaw(workspaceId, async (client) => {
      const target = await this.repository.takeFlatten(client, flattenId, connectionId);
      if (!target || target.status === 'done' || target.status === 'failed') return;
      await this.finish(client, job, {
        status: 'failed',
        error: `flatten_failed: the flatten job was given up (${because}); check the positions at the broker`,
      });
    });
    this.logger.error({ flattenId, connectionId, because }, 'flatten job given up');
  }

  private async flatten(job: FlattenJob, adapter: BrokerAdapter, credentials: BrokerCredentials, target: FlattenTarget): Promise<FlattenResult> {
    const { workspaceId, flattenId, connectionId } = job.data;
    const environment = target.environment;
    // A route's flatten (its window ended) touches its own symbols only.
    const inScope = (symbol: string) => !target.symbols || target.symbols.includes(symbol);
    const held = (await adapter.getPositions(credentials, environment, connectionId)).filter((p) => inScope(p.symbol));
    let canceledOrders = 0;
    for (const symbol of new Set([...target.workingSymbols.filter(inScope), ...held.map((p) => p.symbol)])) {
      canceledOrders += await adapter.cancelOpenOrders(credentials, symbol, environment, connectionId);
    }
    await this.db.runRaw(workspaceId, (client) => this.repository.addCanceled(client, flattenId, connectionId, canceledOrders));
    // Read again: a resting order may have filled before its cancel reached the broker.
    const positions = (await adapter.getPositions(credentials, environment, connectionId)).filter((p) => inScope(p.symbol));
    const earlier = new Map(target.orders.map((o) => [o.symbol, o]));
    const refusals: string[] = [];
    const working: Array<{ symbol: string; clientOrderId: string; brokerOrderId: string }> = [];
    let closed = 0;
    for (const position of positions) {
      const prior = earlier.get(position.symbol);
      // This flatten closed the symbol once already: never a second time, whatever the position is now.
      if (prior && prior.status !== 'pending') continue;
      const close = {
        symbol: position.symbol,
        side: position.quantity.startsWith('-') ? ('buy' as const) : ('sell' as const),
        quantity: absDecimal(position.quantity),
        clientOrderId: flattenClientOrderId(flattenId, connectionId, position.symbol),
      };
      await this.db.runRaw(workspaceId, (client) => this.repository.recordClose(client, workspaceId, flattenId, connectionId, close));
      try {
        const ack = await adapter.placeOrder(credentials, {
          ...close,
          type: 'market',
          environment,
          connectionId,
          // The paper simulator fills market orders at a reference price; the position's average is all a flatten has.
          referencePrice: position.averagePrice,
        });
        await this.db.runRaw(workspaceId, (client) => this.repository.answerClose(client, flattenId, connectionId, position.symbol, ack));
        if (WORKING.has(ack.status)) working.push({ symbol: position.symbol, clientOrderId: close.clientOrderId, brokerOrderId: ack.brokerOrderId });
        closed++;
      } catch (err) {
        if (!(err instanceof BrokerError) || err.retryable) throw err;
        refusals.push(`${position.symbol}: ${err.message}`);
        await this.db.runRaw(workspaceId, (client) =>
          this.repository.answerClose(client, flattenId, connectionId, position.symbol, { rejected: `${err.kind}: ${err.message}` }),
        );
      }
    }
    // A close an earlier attempt sent whose position is gone now: its outcome is read back by its client order id.
    for (const prior of target.orders.filter((o) => o.status === 'pending' && !positions.some((p) => p.symbol === o.symbol))) {
      const found = await adapter.findOrder(credentials, { clientOrderId: prior.clientOrderId, symbol: prior.symbol, environment, connectionId });
      const answer = found ?? { rejected: 'not_sent: the position was gone before the close reached the broker' };
      await this.db.runRaw(workspaceId, (client) => this.repository.answerClose(client, flattenId, connectionId, prior.symbol, answer));
      if (found) closed++;
    }
    await this.followUp(job, adapter, credentials, environment, working);
    return { canceledOrders, closed, refusals };
  }

  /**
   * Brokers that answer an order before it fills (Coinbase always does) are asked again, briefly, so the flatten's
   * record shows the fill; a close still working after that (a closed market) stays `accepted`.
   */
  private async followUp(
    job: FlattenJob,
    adapter: BrokerAdapter,
    credentials: BrokerCredentials,
    environment: 'paper' | 'live',
    working: Array<{ symbol: string; clientOrderId: string; brokerOrderId: string }>,
  ): Promise<void> {
    const { workspaceId, flattenId, connectionId } = job.data;
    for (let round = 0; round < FOLLOW_UPS && working.length > 0 && adapter.getOrder; round++) {
      await sleep(FOLLOW_UP_MS);
      for (const close of [...working]) {
        // The close is placed and recorded; a failed look only leaves its record at the first answer.
        const state = await adapter.getOrder(credentials, { ...close, environment, connectionId }).catch((err: Error) => {
          this.logger.warn(
            { flattenId, connectionId, symbol: close.symbol, err: err instanceof BrokerError ? err.message : err.name },
            'flatten close follow-up failed',
          );
          return null;
        });
        if (!state) continue;
        await this.db.runRaw(workspaceId, (client) => this.repository.answerClose(client, flattenId, connectionId, close.symbol, state));
        if (!WORKING.has(state.status)) working.splice(working.indexOf(close), 1);
      }
    }
  }

  /** Ends this connection's part of the flatten (if it had not ended), audited in the same transaction. */
  private async finish(
    client: Parameters<AuditWriter['recordRaw']>[0],
    job: Pick<FlattenJob, 'id' | 'data'>,
    result: { status: 'done' | 'failed'; closed?: number; error?: string },
  ): Promise<void> {
    const { flattenId, connectionId } = job.data;
    const ended = await this.repository.finishFlatten(client, flattenId, connectionId, result);
    if (!ended) return;
    await this.audit.recordRaw(client, {
      action: 'flatten.connection',
      actor: { type: 'worker', id: job.id },
      resource: { type: 'connection', id: connectionId },
      requestId: job.id,
      reason: result.error?.slice(0, 500),
      metadata: { flattenId, status: result.status, canceledOrders: ended.canceledOrders, closedPositions: result.closed ?? null },
    });
  }
}
