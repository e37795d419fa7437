import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import type { BrokerCredentials, BrokerName } from '../brokers/broker-adapter';
import { BrokerError } from '../brokers/broker-error';
import { BrokerRegistry } from '../brokers/broker-registry';
import type { BrokerStream, BrokerStreamEvent } from '../brokers/broker-stream';
import { LOGGER } from '../common/logger';
import { PollingLoop } from '../common/polling-loop';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import { CredentialOpener } from './credential-opener';
import { LossGuard } from './loss-guard';
import { recordBrokerState } from './order-state';
import { OrderStreamsRepository, StreamedConnection } from './order-streams.repository';
import { OrderSyncRepository } from './order-sync.repository';
import { equalJitterBackoff } from '../common/backoff';

/** The first reconnect waits about this long; each failure in a row doubles it, up to the configured cap. */
const RECONNECT_BASE_MS = 250;

interface Entry extends StreamedConnection {
  stream?: BrokerStream;
  /** When the current stream came up, by the database's clock (ms since epoch); unset while down. */
  openedAt?: number;
  failures: number;
  retry?: NodeJS.Timeout;
  closed: boolean;
  /** Events of one connection are recorded one after another, in the order they came. */
  applying: Promise<void>;
}

/**
 * The worker's broker event streams: one per active connection with working orders (shared by all its orders,
 * whatever signal placed them), at most `ORDER_STREAMS_MAX` per worker. Each (re)open is a credential use with
 * purpose `sync` in the context of one of the connection's working orders; the credential only authenticates
 * the stream and is dropped. Every event is recorded through the poller's own path (recordBrokerState), so a
 * fill seen by the stream, a poll and a replay counts once. A dropped stream reconnects with backoff while the
 * poller goes on; a revoked connection's stream is closed at once (NOTIFY at its commit, else the next refresh).
 */
@Injectable()
export class OrderStreams implements OnModuleDestroy {
  private readonly entries = new Map<string, Entry>();
  private readonly loop: PollingLoop;
  private readonly brokerNames: BrokerName[];
  private unlisten?: () => Promise<void>;
  private started = false;

  constructor(
    private readonly db: TenantDb,
    private readonly repository: OrderStreamsRepository,
    private readonly syncRepository: OrderSyncRepository,
    private readonly opener: CredentialOpener,
    private readonly brokers: BrokerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly lossGuard: LossGuard,
  ) {
    this.brokerNames = brokers.streamingBrokers;
    this.loop = new PollingLoop('order streams', logger, () => this.refresh(), config.orderStreams.refreshMs);
  }

  async start(): Promise<void> {
    if (this.config.orderStreams.max === 0 || this.brokerNames.length === 0) return;
    this.started = true;
    await this.listen().catch((err: Error) => this.logger.warn({ err: err.message }, 'revocation notices not heard; streams close at the next refresh'));
    this.loop.start();
  }

  private async listen(): Promise<void> {
    this.unlisten = await this.repository.listenRevocations(
      (connectionId) => this.close(connectionId, 'connection revoked'),
      () => {
        this.unlisten = undefined;
        this.logger.warn('revocation notices lost; listening again at the next refresh');
      },
    );
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.loop.stop();
    for (const id of [...this.entries.keys()]) this.close(id, 'worker stopping');
    await this.unlisten?.();
    this.unlisten = undefined;
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }

  /**
   * True while the connection's stream is up and has seen this order recorded since it came up, not longer ago
   * than the safety poll interval: the poller may then leave the order to the stream.
   */
  follows(connectionId: string, syncedAt: Date | null): boolean {
    const openedAt = this.entries.get(connectionId)?.openedAt;
    if (openedAt === undefined || syncedAt === null) return false;
    const at = syncedAt.getTime();
    return at >= openedAt && Date.now() - at < this.config.orderStreams.safetyPollMs;
  }

  /** Opens streams for connections that gained working orders, closes those of connections that have none or are no longer active. */
  private async refresh(): Promise<number> {
    if (this.started && !this.unlisten) await this.listen();
    const wanted = await this.repository.connections(this.brokerNames, this.config.orderStreams.max);
    const ids = new Set(wanted.map((w) => w.connectionId));
    for (const id of [...this.entries.keys()]) if (!ids.has(id)) this.close(id, 'no working orders on an active connection');
    for (const w of wanted) {
      if (this.entries.has(w.connectionId) || this.entries.size >= this.config.orderStreams.max) continue;
      const entry: Entry = { ...w, failures: 0, closed: false, applying: Promise.resolve() };
      this.entries.set(w.connectionId, entry);
      void this.connect(entry);
    }
    return this.config.orderStreams.refreshMs;
  }

  private async connect(entry: Entry): Promise<void> {
    if (entry.closed) return;
    const client = this.brokers.stream(entry.broker as BrokerName)!;
    const context = { workspaceId: entry.workspaceId, jobId: `stream-${randomUUID()}`, orderId: '', connectionId: entry.connectionId };
    let credentials: BrokerCredentials | undefined;
    try {
      const authorized = await this.db.runRawLifecycle(entry.workspaceId, async (db) => {
        const working = await this.repository.workingOrder(db, entry.connectionId);
        if (!working) return undefined;
        context.orderId = working.orderId;
        return { environment: working.environment, grant: await this.opener.authorizeSync(db, context) };
      });
      if (!authorized) return this.close(entry.connectionId, 'no working orders on an active connection');
      credentials = await this.opener.open(authorized.grant);
      const stream = await client.open(credentials, authorized.environment, {
        onEvent: (event) => this.onEvent(entry, event),
        onClose: (reason) => this.dropped(entry, reason),
      });
      credentials = undefined;
      if (entry.closed) return stream.close();
      entry.stream = stream;
      entry.failures = 0;
      this.logger.info({ connectionId: entry.connectionId, broker: entry.broker }, 'order stream open');
      const openedAt = await this.db.runRawLifecycle(entry.workspaceId, (db) => this.repository.markDue(db, entry.connectionId));
      // Until now the poller kept asking; from now on it leaves the orders this stream records.
      if (entry.stream === stream) entry.openedAt = openedAt.getTime();
    } catch (err) {
      entry.stream?.close(); // opened, but its catch-up could not be scheduled: start over
      this.dropped(entry, err instanceof BrokerError ? err.message : ((err as Error)?.name ?? 'unknown'));
    } finally {
      credentials = undefined;
    }
  }

  /** Down (refused, dropped, failed to open): polling goes on; the stream is opened again after a backoff with equal jitter. */
  private dropped(entry: Entry, reason: string): void {
    entry.stream = undefined;
    entry.openedAt = undefined;
    if (entry.closed) return;
    entry.failures += 1;
    const retryInMs = equalJitterBackoff(RECONNECT_BASE_MS, Math.min(entry.failures, 20), this.config.orderStreams.reconnectMaxMs);
    this.logger.warn({ connectionId: entry.connectionId, broker: entry.broker, failures: entry.failures, retryInMs, reason }, 'order stream down');
    entry.retry = setTimeout(() => void this.connect(entry), retryInMs);
  }

  private close(connectionId: string, why: string): void {
    const entry = this.entries.get(connectionId);
    if (!entry) return;
    entry.closed = true;
    clearTimeout(entry.retry);
    entry.stream?.close();
    entry.stream = undefined;
    entry.openedAt = undefined;
    this.entries.delete(connectionId);
    this.logger.info({ connectionId, broker: entry.broker, why }, 'order stream closed');
  }

  private onEvent(entry: Entry, event: BrokerStreamEvent): void {
    entry.applying = entry.applying
      .then(() => this.record(entry, event))
      .catch((err: Error) => this.logger.error({ connectionId: entry.connectionId, err: err.message }, 'order stream event not recorded'));
  }

  private async record(entry: Entry, event: BrokerStreamEvent): Promise<void> {
    const moved = await this.db.runRawLifecycle(entry.workspaceId, async (db) => {
      const orderId = await this.repository.orderByClientOrderId(db, entry.connectionId, event.clientOrderId);
      if (!orderId) return undefined; // an order placed at the broker outside Switchyard
      const result = await recordBrokerState(this.syncRepository, db, orderId, event.state, this.config.orderSync.intervalMs);
      return result && { orderId, ...result };
    });
    if (moved && moved.from !== moved.to)
      this.logger.info({ orderId: moved.orderId, from: moved.from, to: moved.to, via: 'stream' }, 'order status changed at the broker');
    if (moved?.filled) await this.lossGuard.afterFill(entry.workspaceId, entry.connectionId, `stream-${moved.orderId}`);
  }
}
