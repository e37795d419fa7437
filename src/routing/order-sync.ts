import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { BROKER_NAMES, BrokerCredentials, BrokerName } from '../brokers/broker-adapter';
import { BrokerError } from '../brokers/broker-error';
import { BrokerRegistry } from '../brokers/broker-registry';
import { LOGGER } from '../common/logger';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import { CredentialOpener } from './credential-opener';
import { LossGuard } from './loss-guard';
import { recordBrokerState } from './order-state';
import { OrderStreams } from './order-streams';
import { OrderSyncRepository, SyncedOrder } from './order-sync.repository';
import { equalJitterBackoff } from '../common/backoff';

/** Due orders taken per pass; a full batch means more may be due, so the next pass starts at once. */
const BATCH = 100;
/** How long a taken order is left alone by other workers while this one asks its broker. */
const LEASE_MS = 60_000;

/**
 * Follows every order still working at its broker (accepted, partially filled) until it is filled, canceled,
 * expired or rejected: asks the broker for it by our client order id, records new fills and the status, and
 * asks again after the poll interval, or after an exponential backoff when the ask failed. Its first pass is
 * the reconciliation sweep: every working order, due or not, so a restart settles what changed meanwhile.
 * Each ask opens the connection's credential through the CredentialOpener, audited with purpose `sync`.
 */
@Injectable()
export class OrderSync extends LoopingService {
  protected readonly loop: PollingLoop;
  private readonly brokerNames: BrokerName[];
  private swept = false;

  constructor(
    private readonly db: TenantDb,
    private readonly repository: OrderSyncRepository,
    private readonly opener: CredentialOpener,
    private readonly brokers: BrokerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly streams: OrderStreams,
    private readonly lossGuard: LossGuard,
  ) {
    super();
    this.brokerNames = BROKER_NAMES.filter((name) => this.brokers.get(name).getOrder !== undefined);
    const { intervalMs } = config.orderSync;
    this.loop = new PollingLoop('order sync', logger, () => this.pass(), intervalMs);
  }

  /** The start-up sweep once, then the due orders; returns the delay before the next pass. */
  private async pass(): Promise<number> {
    if (!this.swept) {
      await this.sweep();
      this.swept = true;
    }
    const due = await this.repository.due(this.brokerNames, BATCH);
    await this.syncAll(due, false);
    return due.length >= BATCH ? 0 : this.config.orderSync.intervalMs;
  }

  /** Every working order, whatever its schedule, paged by id. */
  async sweep(): Promise<number> {
    let after = '00000000-0000-0000-0000-000000000000';
    let total = 0;
    for (;;) {
      const page = await this.repository.due(this.brokerNames, BATCH, after);
      await this.syncAll(page, true);
      total += page.length;
      if (page.length < BATCH || this.loop.stopped) break;
      after = page[page.length - 1].id;
    }
    if (total > 0) this.logger.info({ orders: total }, 'order reconciliation sweep done');
    return total;
  }

  /** At most `concurrency` asks at once. */
  private async syncAll(orders: { id: string; workspaceId: string }[], force: boolean): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < orders.length && !this.loop.stopped) {
        const { id, workspaceId } = orders[next++];
        await this.syncOne(workspaceId, id, force).catch((err: Error) => this.logger.error({ orderId: id, err: err.message }, 'order sync failed'));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.orderSync.concurrency, orders.length) }, lane));
  }

  /** One ask: take the order and authorise the credential (one transaction), ask the broker, record the answer. */
  async syncOne(workspaceId: string, orderId: string, force = false): Promise<void> {
    const context = { workspaceId, jobId: `sync-${randomUUID()}`, orderId, connectionId: '' };
    const taken = await this.db.runRawLifecycle(workspaceId, async (client) => {
      const order = await this.repository.take(client, orderId, LEASE_MS, force);
      if (!order) return undefined;
      // A revoked or paused connection's orders wait (its credential is not opened) and are looked at again later.
      if (order.connectionStatus !== 'active') {
        await this.repository.failed(client, order.id, this.config.orderSync.maxBackoffMs);
        return undefined;
      }
      // Its connection's stream is up and has recorded it since: not asked (nor its credential opened) this time.
      if (!force && this.streams.follows(order.connectionId, order.syncedAt)) {
        await this.repository.postpone(client, order.id, this.config.orderSync.intervalMs);
        return undefined;
      }
      context.connectionId = order.connectionId;
      return { order, grant: await this.opener.authorizeSync(client, context) };
    });
    if (!taken) return;
    const { order, grant } = taken;
    let credentials: BrokerCredentials | undefined;
    try {
      credentials = await this.opener.open(grant);
      const adapter = this.brokers.get(order.broker as BrokerName);
      const lookup = {
        clientOrderId: order.clientOrderId,
        brokerOrderId: order.brokerOrderId ?? undefined,
        symbol: order.symbol,
        environment: order.environment,
        connectionId: order.connectionId,
      };
      const state = await adapter.getOrder!(credentials, lookup);
      if (!state) throw new Error(`${order.broker} does not know order ${order.clientOrderId}`);
      const moved = await this.db.runRawLifecycle(workspaceId, (client) =>
        recordBrokerState(this.repository, client, order.id, state, this.config.orderSync.intervalMs),
      );
      if (moved && moved.from !== moved.to) this.logger.info({ orderId: order.id, from: moved.from, to: moved.to }, 'order status changed at the broker');
      if (moved?.filled) await this.lossGuard.afterFill(workspaceId, order.connectionId, context.jobId);
    } catch (err) {
      await this.backOff(workspaceId, order, err);
    } finally {
      credentials = undefined;
    }
  }

  /** Exponential backoff with equal jitter, capped, so a broker that is down is not asked ever faster. */
  private async backOff(workspaceId: string, order: SyncedOrder, err: unknown): Promise<void> {
    const { intervalMs, maxBackoffMs } = this.config.orderSync;
    const retryInMs = equalJitterBackoff(intervalMs, Math.min(order.syncFailures + 1, 20), maxBackoffMs);
    this.logger.warn(
      {
        orderId: order.id,
        broker: order.broker,
        failures: order.syncFailures + 1,
        retryInMs,
        err: err instanceof BrokerError ? err.message : ((err as Error)?.name ?? 'unknown'),
      },
      'order sync ask failed',
    );
    await this.db.runRawLifecycle(workspaceId, (client) => this.repository.failed(client, order.id, retryInMs));
  }
}
