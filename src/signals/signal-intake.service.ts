import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { Problem } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EnqueuedMarker } from './enqueued-marker';
import { ipAllowed } from './ip-allowlist';
import { webhookOutcomes, webhookRefusals, webhookStageDuration } from './signal-metrics';
import { parseSignalPayload, SignalPayload } from './signal-payload';
import { SignalQueue } from './signal-queue';
import type { SignalStatus, WebhookAccepted } from './dto/signal.dto';
import { NewSignal, ResolvedSource, SignalsRepository } from './signals.repository';
import type { SourceAuthMode } from './sources.repository';
import { SignatureFailureMonitor } from './signature-failure-monitor';
import { WebhookKeyring } from './webhook-keyring';
import { WebhookRateLimiter } from './webhook-rate-limiter';
import { StandardWebhookHeaders, VerifyResult, verifyStandardWebhook, verifyToken } from './webhook-verifier';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const URL_TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
const MESSAGE_ID = /^[\x21-\x7e]{1,256}$/;
/** Bodies without webhook-id or `id` are the same signal when identical within this many seconds (sender retries). */
export const BODY_DEDUPE_WINDOW_SECONDS = 30;
/** A body `id` is an idempotency key for a day (like Stripe's); reused later (e.g. a strategy's order name) it is a new signal. */
export const BODY_ID_WINDOW_SECONDS = 24 * 3600;
// Past this the queue is treated as down: the signal is already durable and the sweep enqueues it.
const ENQUEUE_TIMEOUT_MS = 1_000;

/** One webhook request as the controller received it. */
export interface WebhookDelivery {
  sourceId: string;
  /** Token mode only: the last path segment. */
  token?: string;
  headers: StandardWebhookHeaders;
  /** The exact body received (signatures cover it). */
  rawBody: string;
  /** Parsed JSON (application/json) or the text (text/plain). */
  body: unknown;
  ip: string;
  requestId: string;
}

type Refusal = Extract<VerifyResult, { ok: false }>['reason'] | 'malformed_token' | 'unknown_source' | 'auth_mode_mismatch' | 'ip_not_allowed';

/**
 * Refusals that can page on-call: deliveries that are well-formed (valid Standard Webhooks headers within the
 * timestamp tolerance, or a token of the right shape) yet wrong. Junk from anyone who learnt a source id is a
 * metric and a warning only, unless it came from an address on the source's own allowlist.
 */
const PAGING_REFUSALS: ReadonlySet<Refusal> = new Set(['no_matching_signature', 'no_matching_token']);

/**
 * The webhook path: authenticate, validate, persist in one transaction, enqueue with the signal id
 * as job id, answer. No broker call and no KMS call (opened HMAC keys are cached) on this path.
 */
@Injectable()
export class SignalIntakeService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly signals: SignalsRepository,
    private readonly keyring: WebhookKeyring,
    private readonly limiter: WebhookRateLimiter,
    private readonly failures: SignatureFailureMonitor,
    private readonly queue: SignalQueue,
    private readonly marker: EnqueuedMarker,
  ) {}

  async accept(mode: SourceAuthMode, delivery: WebhookDelivery): Promise<WebhookAccepted> {
    await this.limit(`ip:${delivery.ip}`, this.config.rateLimit.webhookPerIpPerMinute);
    const started = performance.now();
    const sourceId = delivery.sourceId.toLowerCase();
    const source = await this.authenticate(mode, sourceId, delivery);
    return this.ingest(source.workspaceId, sourceId, delivery, started);
  }

  /**
   * A test signal a signed-in member sends from the console: the webhook's path after authentication (the
   * member's session stands in for the source's secret, which the console never holds), so it is routed,
   * risk-checked and filled like any delivery. The caller has checked that the source is in its workspace.
   */
  async acceptTest(workspaceId: string, sourceId: string, delivery: Omit<WebhookDelivery, 'sourceId' | 'headers' | 'token'>): Promise<WebhookAccepted> {
    return this.ingest(workspaceId, sourceId, { ...delivery, sourceId, headers: { id: `console-test-${randomUUID()}` } }, performance.now());
  }

  private async ingest(workspaceId: string, sourceId: string, delivery: WebhookDelivery, started: number): Promise<WebhookAccepted> {
    await this.limit(`source:${sourceId}`, this.config.rateLimit.webhookPerMinute);
    let payload: SignalPayload;
    try {
      payload = parseSignalPayload(delivery.body);
    } catch (err) {
      webhookOutcomes.inc({ outcome: 'invalid' });
      throw err;
    }
    started = stage('verify', started);

    const persisted = await this.signals.persist({
      id: randomUUID(),
      workspaceId,
      sourceId,
      ...idempotencyKeys(delivery, payload),
      rawPayload: delivery.rawBody,
      payload,
      senderIp: delivery.ip,
      requestId: delivery.requestId,
    });
    started = stage('persist', started);
    if (persisted.duplicate) {
      webhookOutcomes.inc({ outcome: 'duplicate' });
      return { signalId: persisted.id, status: persisted.status, duplicate: true };
    }

    const status = await this.handOff(workspaceId, persisted.id);
    stage('enqueue', started);
    webhookOutcomes.inc({ outcome: 'accepted' });
    return { signalId: persisted.id, status, duplicate: false };
  }

  /** Every refusal (unknown source, wrong mode, IP, signature, token, timestamp) is the same 401. */
  private async authenticate(mode: SourceAuthMode, sourceId: string, delivery: WebhookDelivery): Promise<ResolvedSource> {
    const source = UUID.test(sourceId) ? await this.signals.resolveSource(sourceId) : undefined;
    const refusal = source ? await this.refusal(mode, sourceId, source, delivery) : 'unknown_source';
    if (!refusal) return source!;
    webhookOutcomes.inc({ outcome: 'unauthorized' });
    if (!source) {
      this.logger.info({ requestId: delivery.requestId, reason: refusal }, 'webhook refused');
      throw webhookUnauthorized();
    }
    const pages = PAGING_REFUSALS.has(refusal) || (source.allowedIps.length > 0 && ipAllowed(source.allowedIps, delivery.ip));
    webhookRefusals.inc({ reason: refusal, pages: String(pages) });
    if (pages) {
      this.logger.info({ requestId: delivery.requestId, sourceId, reason: refusal }, 'webhook refused');
      this.failures.record(source.workspaceId, sourceId, refusal, delivery.ip, delivery.requestId);
    } else {
      this.logger.warn(
        { requestId: delivery.requestId, sourceId, reason: refusal },
        'webhook refused (malformed or off-allowlist: not counted toward the signature-failure page)',
      );
    }
    throw webhookUnauthorized();
  }

  private async refusal(mode: SourceAuthMode, sourceId: string, source: ResolvedSource, delivery: WebhookDelivery): Promise<Refusal | undefined> {
    if (source.authMode !== mode) return 'auth_mode_mismatch';
    if (!ipAllowed(source.allowedIps, delivery.ip)) return 'ip_not_allowed';
    let result: VerifyResult;
    if (mode === 'token') {
      if (!delivery.token || !URL_TOKEN.test(delivery.token)) return 'malformed_token';
      result = verifyToken(
        delivery.token,
        source.secrets.flatMap((s) => (s.tokenHash ? [{ version: s.version, key: s.tokenHash }] : [])),
      );
    } else {
      const versions = source.secrets.map((s) => s.version);
      const now = Math.floor(Date.now() / 1000);
      result = await this.keyring
        .withKeys(source.workspaceId, sourceId, versions, (keys) => verifyStandardWebhook(delivery.headers, delivery.rawBody, keys, now))
        .catch((err: unknown) => this.keysUnavailable(err, sourceId, delivery.requestId));
    }
    return result.ok ? undefined : result.reason;
  }

  // Only a cold key cache needs the KMS; if it fails the sender should retry (5xx), not give up on a 401.
  private keysUnavailable(err: unknown, sourceId: string, requestId: string): never {
    this.logger.error({ err, requestId, sourceId }, 'webhook secret could not be opened');
    throw Problem.unavailable('verification_unavailable', 'The webhook cannot be verified right now; retry later.');
  }

  private async limit(key: string, perWindow: number): Promise<void> {
    const decision = await this.limiter.take(key, perWindow);
    if (decision.allowed) return;
    webhookOutcomes.inc({ outcome: 'rate_limited' });
    throw Problem.tooManyRequests('rate_limited', 'Too many webhook deliveries; retry after the indicated delay.', decision.retryAfterSeconds);
  }

  private async handOff(workspaceId: string, signalId: string): Promise<SignalStatus> {
    const adding = this.queue.enqueue(workspaceId, signalId);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([adding, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('enqueue timed out')), ENQUEUE_TIMEOUT_MS)))]);
    } catch (err) {
      adding.catch(() => undefined);
      this.logger.warn({ err, workspaceId, signalId }, 'signal persisted but not enqueued; the recovery sweep will enqueue it');
      return 'received';
    } finally {
      clearTimeout(timer);
    }
    this.marker.mark(workspaceId, signalId);
    return 'queued';
  }
}

/** The one answer to every unauthenticated delivery: no oracle on which sources exist. */
function webhookUnauthorized(): Problem {
  return new Problem(401, 'unauthorized', 'Unauthorized', 'The webhook could not be authenticated.');
}

/**
 * webhook-id, else the body's `id`, else a hash of the exact body. Body keys carry a time bucket (the
 * same alert text tomorrow is a new signal) and the previous bucket is checked too: a sliding window.
 */
function idempotencyKeys(delivery: WebhookDelivery, payload: SignalPayload): Pick<NewSignal, 'idempotencyKey' | 'previousBucketKey' | 'dedupeWindowSeconds'> {
  const webhookId = delivery.headers.id;
  if (webhookId && MESSAGE_ID.test(webhookId)) return { idempotencyKey: `wh:${webhookId}` };
  if (payload.id !== undefined) return bucketed(`id:${payload.id}`, BODY_ID_WINDOW_SECONDS);
  return bucketed(`body:${createHash('sha256').update(delivery.rawBody, 'utf8').digest('hex')}`, BODY_DEDUPE_WINDOW_SECONDS);
}

function bucketed(key: string, windowSeconds: number): Pick<NewSignal, 'idempotencyKey' | 'previousBucketKey' | 'dedupeWindowSeconds'> {
  const bucket = Math.floor(Date.now() / 1000 / windowSeconds);
  return { idempotencyKey: `${key}:${bucket}`, previousBucketKey: `${key}:${bucket - 1}`, dedupeWindowSeconds: windowSeconds };
}

function stage(name: 'verify' | 'persist' | 'enqueue', since: number): number {
  const now = performance.now();
  webhookStageDuration.observe({ stage: name }, (now - since) / 1000);
  return now;
}
