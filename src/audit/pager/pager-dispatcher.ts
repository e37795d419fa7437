import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { equalJitterBackoff } from '../../common/backoff';
import { LOGGER } from '../../common/logger';
import { LoopingService, PollingLoop } from '../../common/polling-loop';
import { TenantDb } from '../../database/tenant-db';
import { AUDIT_TUNING, AuditTuning } from '../audit-tuning';
import { AlertsRepository, ClaimedDelivery, DeliveryResult } from './alerts.repository';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { alertLink, DeliveryOutcome, PAGER_CHANNELS, PagerChannel, PagerChannelName } from './pager-channel';

/**
 * Sends persisted alert deliveries. Polls for due deliveries across workspaces, claims them with
 * a lease (FOR UPDATE SKIP LOCKED, so several dispatchers share the work), delivers, and records
 * the result: delivered, retried with exponential backoff and jitter (429, 5xx, network), or
 * failed (any other refusal, or maxAttempts). A restart loses nothing: state lives in the database.
 */
@Injectable()
export class PagerDispatcher extends LoopingService {
  private readonly channels: Map<PagerChannelName, PagerChannel>;
  protected readonly loop: PollingLoop;

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly alerts: AlertsRepository,
    @Inject(PAGER_CHANNELS) channels: PagerChannel[],
    @Inject(AUDIT_TUNING) private readonly tuning: AuditTuning,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
    this.channels = new Map(channels.map((c) => [c.name, c]));
    const { batchSize, pollIntervalMs } = tuning.dispatcher;
    // A full batch means more may be due right away.
    this.loop = new PollingLoop('pager dispatch', logger, async () => ((await this.runOnce()) >= batchSize ? 0 : pollIntervalMs), pollIntervalMs);
  }

  /** One poll: claims and attempts every due delivery (up to batchSize); returns how many were attempted. */
  async runOnce(): Promise<number> {
    const due = await this.alerts.due(this.tuning.dispatcher.batchSize);
    const byWorkspace = new Map<string, string[]>();
    for (const { id, workspaceId } of due) byWorkspace.set(workspaceId, [...(byWorkspace.get(workspaceId) ?? []), id]);
    const attempts: Promise<void>[] = [];
    for (const [workspaceId, ids] of byWorkspace) {
      const claimed = await this.tenantDb.runRaw(workspaceId, (client) => this.alerts.claim(client, ids, this.tuning.dispatcher.leaseMs));
      for (const claim of claimed) attempts.push(this.attempt(claim));
    }
    await Promise.all(attempts);
    return attempts.length;
  }

  private async attempt(claim: ClaimedDelivery): Promise<void> {
    const result = await this.deliver(claim);
    const log = {
      deliveryId: claim.deliveryId,
      alertId: claim.alert.id,
      workspaceId: claim.alert.workspaceId,
      channel: claim.channel,
      action: claim.action,
      attempt: claim.attempts,
    };
    if (result.status === 'delivered') this.logger.info(log, 'alert delivered');
    else this.logger.warn({ ...log, error: result.error, status: result.status }, 'alert delivery failed');
    await this.tenantDb.runRaw(claim.alert.workspaceId, (client) => this.alerts.finish(client, claim, result));
  }

  private async deliver(claim: ClaimedDelivery): Promise<DeliveryResult> {
    const channel = this.channels.get(claim.channel);
    if (!channel) return { status: 'failed', error: `channel ${claim.channel} is no longer configured` };
    const notice = { ...claim, link: alertLink(this.config.http.publicBaseUrl, claim.alert) };
    const outcome: DeliveryOutcome = await channel
      .deliver(notice)
      .catch((err: unknown) => ({ kind: 'retry', error: `unexpected error (${(err as Error).name})` }));
    if (outcome.kind === 'delivered') return { status: 'delivered' };
    if (outcome.kind === 'failed') return { status: 'failed', error: outcome.error };
    const { baseDelayMs, maxDelayMs, maxAttempts } = this.tuning.dispatcher;
    if (claim.attempts >= maxAttempts) return { status: 'failed', error: `${outcome.error}; gave up after ${claim.attempts} attempts` };
    const jittered = equalJitterBackoff(baseDelayMs, claim.attempts - 1, maxDelayMs);
    return { status: 'pending', retryInMs: Math.min(maxDelayMs, Math.max(jittered, outcome.retryAfterMs ?? 0)), error: outcome.error };
  }
}
