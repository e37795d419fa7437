import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import { MailTransport, smtpFailure } from './mail-transport';
import { composeDigest } from './notification-mail';
import { NotificationOutboxRepository } from './notification-outbox.repository';
import { equalJitterBackoff } from '../common/backoff';

/** Members whose mail is due, taken per pass; a full batch means more may be due, so the next pass starts at once. */
const BATCH = 50;
/** Mails sent at once by one worker. */
const CONCURRENCY = 2;

/**
 * Mails the notification outbox: finds members with mail due across workspaces, takes each member's pending events
 * under a lease and sends them as ONE mail (a digest: at most one mail per NOTIFICATION_DIGEST_MS per member; a first
 * event waits NOTIFICATION_GATHER_MS for others to join it). An SMTP failure leaves every event pending and retries
 * the member with exponential backoff and jitter, without end (capped at NOTIFICATION_RETRY_MAX_MS): nothing is lost
 * while the server is down. State lives in the database, so a restart loses nothing either.
 */
@Injectable()
export class NotificationDispatcher extends LoopingService {
  protected readonly loop: PollingLoop;
  private readonly leaseMs: number;

  constructor(
    private readonly db: TenantDb,
    private readonly outbox: NotificationOutboxRepository,
    private readonly transport: MailTransport,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
    // A worker that dies mid-send leaves the member's mail to another once the lease ends (connect + greeting + socket timeouts).
    this.leaseMs = (config.notifications.smtp?.timeoutMs ?? 0) * 5 + 5_000;
    this.loop = new PollingLoop('notification mail', logger, () => this.pass(), config.notifications.intervalMs);
  }

  override start(): void {
    if (!this.transport.enabled) {
      this.logger.info('notifications: SMTP_URL is not set, so notifications are recorded but not mailed');
      return;
    }
    super.start();
  }

  private async pass(): Promise<number> {
    const { gatherMs, digestMs, intervalMs } = this.config.notifications;
    const due = await this.outbox.due(gatherMs, digestMs, BATCH);
    let next = 0;
    const lane = async () => {
      while (next < due.length && !this.loop.stopped) {
        const { workspaceId, memberId } = due[next++];
        await this.mailOne(workspaceId, memberId).catch((err: Error) => this.logger.error({ memberId, err: err.message }, 'notification mail failed'));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, lane));
    return due.length >= BATCH ? 0 : intervalMs;
  }

  async mailOne(workspaceId: string, memberId: string): Promise<void> {
    const taken = await this.db.runRaw(workspaceId, (client) => this.outbox.take(client, memberId, this.config.notifications.digestMs, this.leaseMs));
    if (!taken) return;
    const mailId = randomUUID();
    const mail = composeDigest(taken, this.config.http.publicBaseUrl);
    const ids = taken.notifications.map((n) => n.id);
    try {
      await this.transport.send({ to: taken.email, ...mail, messageId: `<${mailId}@switchyard>` });
    } catch (err) {
      const failure = smtpFailure(err);
      if (failure.permanent) {
        await this.db.runRaw(workspaceId, (client) => this.outbox.drop(client, memberId, failure.summary));
        this.logger.warn({ memberId, notifications: ids.length, error: failure.summary }, 'notification mail refused for good; its notifications are dropped');
        return;
      }
      const retryInMs = this.backoff(taken.failures + 1);
      await this.db.runRaw(workspaceId, (client) => this.outbox.failed(client, memberId, failure.summary, retryInMs));
      this.logger.warn(
        { memberId, notifications: ids.length, failures: taken.failures + 1, retryInMs, error: failure.summary },
        'notification mail not sent; retrying later',
      );
      return;
    }
    await this.db.runRaw(workspaceId, (client) => this.outbox.mailed(client, memberId, ids, mailId));
    this.logger.info({ memberId, mailId, notifications: ids.length }, 'notification mail sent');
  }

  private backoff(failures: number): number {
    const { retryBaseMs, retryMaxMs } = this.config.notifications;
    return equalJitterBackoff(retryBaseMs, Math.min(failures - 1, 30), retryMaxMs);
  }
}
