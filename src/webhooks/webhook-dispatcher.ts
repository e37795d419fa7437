import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { LOGGER } from '../common/logger';
import { OutboundError } from '../common/outbound/outbound-error';
import { OutboundGuard } from '../common/outbound/outbound-guard';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import { openSealedSecret } from '../kms/envelope';
import { KMS_PROVIDER, KmsProvider, signingSecretContext } from '../kms/kms-provider';
import { AttemptRecord, AttemptVerdict, TakenDelivery, WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { equalJitterBackoff } from '../common/backoff';

/** Due deliveries taken per pass; a full batch means more may be due, so the next pass starts at once. */
const BATCH = 100;
/** Deliveries sent at once by one worker. */
const CONCURRENCY = 4;
/** How much of a receiver's answer the deliveries API shows. */
const EXCERPT_CHARS = 200;

/**
 * Delivers the order-webhook outbox: finds due deliveries across workspaces, takes each with a lease, opens the
 * endpoint's signing secret (the worker's KMS principal; the api can only seal it), signs the payload with
 * Standard Webhooks (webhook-id = the delivery's id, stable across retries, so receivers dedupe) and sends it
 * through the SSRF guard. Any answer but 2xx, and any network failure, is retried with exponential backoff and
 * jitter until WEBHOOK_MAX_ATTEMPTS, then the delivery is failed. State lives in the database: a restart loses nothing.
 */
@Injectable()
export class WebhookDispatcher extends LoopingService {
  protected readonly loop: PollingLoop;
  private readonly leaseMs: number;

  constructor(
    private readonly db: TenantDb,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly guard: OutboundGuard,
    @Inject(KMS_PROVIDER) private readonly kms: KmsProvider,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
    const { intervalMs } = config.webhooksOut;
    // A worker that dies mid-attempt leaves its delivery to another once the lease ends.
    this.leaseMs = config.outbound.timeoutMs * 2 + 5_000;
    this.loop = new PollingLoop('webhook delivery', logger, () => this.pass(), intervalMs);
  }

  private async pass(): Promise<number> {
    const due = await this.deliveries.due(BATCH);
    let next = 0;
    const lane = async () => {
      while (next < due.length && !this.loop.stopped) {
        const { id, workspaceId } = due[next++];
        await this.deliverOne(workspaceId, id).catch((err: Error) => this.logger.error({ deliveryId: id, err: err.message }, 'webhook delivery failed'));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, lane));
    return due.length >= BATCH ? 0 : this.config.webhooksOut.intervalMs;
  }

  async deliverOne(workspaceId: string, id: string): Promise<void> {
    const taken = await this.db.runRaw(workspaceId, (client) => this.deliveries.take(client, id, this.leaseMs));
    if (!taken) return;
    if (taken.endpointDeleted || taken.secrets.length === 0) {
      await this.db.runRaw(workspaceId, (client) => this.deliveries.abandon(client, id, 'endpoint deleted'));
      return;
    }
    const started = Date.now();
    const attempt = await this.attempt(workspaceId, taken);
    const record: AttemptRecord = { ...attempt, durationMs: Date.now() - started };
    const verdict = this.verdict(taken, record);
    await this.db.runRaw(workspaceId, (client) => this.deliveries.record(client, id, record, verdict));
    this.logger.info(
      { deliveryId: id, endpointId: taken.endpointId, attempt: taken.attempts + 1, statusCode: record.statusCode, outcome: verdict.kind },
      'webhook delivery attempt',
    );
  }

  /** Signs and sends once. Errors name a code and the host at most: never the URL, the secret or the payload. */
  private async attempt(workspaceId: string, taken: TakenDelivery): Promise<Omit<AttemptRecord, 'durationMs'>> {
    const timestamp = new Date();
    const signatures: string[] = [];
    // During a rotation's grace period one signature per secret (Standard Webhooks: space-separated), so receivers accept either.
    for (const { version, sealed } of taken.secrets) {
      let key: Buffer | undefined;
      try {
        key = await openSealedSecret(this.kms, sealed, signingSecretContext({ workspaceId, endpointId: taken.endpointId, version }));
        signatures.push(new Webhook(key, { format: 'raw' }).sign(taken.id, timestamp, taken.payload));
      } catch (err) {
        this.logger.error(
          { deliveryId: taken.id, endpointId: taken.endpointId, secretVersion: version, err: (err as Error).name },
          'webhook signing secret could not be opened',
        );
        return { statusCode: null, error: 'signing_failed: the signing secret could not be opened', responseExcerpt: null };
      } finally {
        key?.fill(0);
      }
    }
    try {
      const res = await this.guard.fetch(taken.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'switchyard-webhooks',
          'webhook-id': taken.id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signatures.join(' '),
        },
        body: taken.payload,
      });
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return { statusCode: res.statusCode, error: ok ? null : `HTTP ${res.statusCode}`, responseExcerpt: excerpt(res.body) };
    } catch (err) {
      if (err instanceof OutboundError) return { statusCode: null, error: `${err.code}: ${err.message}`, responseExcerpt: null };
      throw err;
    }
  }

  private verdict(taken: TakenDelivery, attempt: AttemptRecord): AttemptVerdict {
    if (attempt.error === null) return { kind: 'delivered' };
    const attempts = taken.attempts + 1;
    const { maxAttempts, retryBaseMs } = this.config.webhooksOut;
    if (attempts >= maxAttempts) return { kind: 'failed' };
    return { kind: 'retry', inMs: equalJitterBackoff(retryBaseMs, attempts - 1) };
  }
}

/** The start of a receiver's answer, printable characters only, for the deliveries API. */
function excerpt(body: Buffer): string | null {
  if (body.length === 0) return null;
  return body
    .subarray(0, EXCERPT_CHARS * 4)
    .toString('utf8')
    .replace(/[^\x20-\x7e\u00a0-\uffff]/g, ' ')
    .slice(0, EXCERPT_CHARS);
}
