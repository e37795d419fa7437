import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import { OutboundError } from '../common/outbound/outbound-error';
import { OutboundGuard } from '../common/outbound/outbound-guard';
import { byCreatedAt, ListRequest, Page, PageRequest, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { TenantDb, TenantTx } from '../database/tenant-db';
import { SealedSecret, sealSecret } from '../kms/envelope';
import { KmsUnavailableError } from '../kms/kms-errors';
import { KMS_PROVIDER, KmsProvider, signingSecretContext } from '../kms/kms-provider';
import type { AuthContext } from '../common/auth/auth-context';
import type {
  CreateWebhookDto,
  DeliveryListFilter,
  DeliveryView,
  IssuedWebhook,
  RotateWebhookSecretDto,
  UpdateWebhookDto,
  WebhookView,
} from './dto/webhook.dto';
import { WebhookDeliveryRecord, WebhookEndpointRecord, WebhooksRepository } from './webhooks.repository';

/** Every order transition fans out to each endpoint: a bound keeps one workspace from multiplying the outbox. */
export const MAX_ENDPOINTS = 25;

/** 32 random bytes, shown as `whsec_<base64>` (the Standard Webhooks secret format receivers' libraries take). */
const SECRET_BYTES = 32;

/** Order webhooks out: endpoints a workspace admin registers (URL checked by the SSRF guard), their secrets and deliveries. */
@Injectable()
export class WebhooksService {
  constructor(
    @Inject(KMS_PROVIDER) private readonly kms: KmsProvider,
    private readonly db: TenantDb,
    private readonly webhooks: WebhooksRepository,
    private readonly audit: AuditWriter,
    private readonly guard: OutboundGuard,
  ) {}

  async create(auth: AuthContext, dto: CreateWebhookDto): Promise<IssuedWebhook> {
    const url = await this.checkedUrl(dto.url);
    const id = randomUUID();
    const { sealed, shown } = await this.newSecret({ workspaceId: auth.workspaceId, endpointId: id, version: 1 });
    const record = await this.db.run(auth.workspaceId, async (tx) => {
      if ((await this.webhooks.countActive(tx)) >= MAX_ENDPOINTS) {
        throw Problem.unprocessable('webhook_limit_reached', `A workspace may register at most ${MAX_ENDPOINTS} webhook endpoints; delete one first.`);
      }
      const created = await this.webhooks.create(tx, {
        id,
        workspaceId: auth.workspaceId,
        url: url.href,
        events: dto.events,
        description: dto.description,
        createdBy: `${auth.actor.type}:${auth.actor.id}`,
      });
      await this.webhooks.addSecret(tx, { workspaceId: auth.workspaceId, endpointId: id, version: 1 }, sealed);
      await this.audit.record(tx, { ...this.auditContext(auth, id), action: 'webhook.create', metadata: { host: url.host, events: dto.events.join(',') } });
      return created;
    });
    return { ...view(record), secret: shown };
  }

  async list(auth: AuthContext, page: PageRequest<TimeKey>): Promise<Page<WebhookView>> {
    return toPage(await this.db.run(auth.workspaceId, (tx) => this.webhooks.list(tx, page)), page, byCreatedAt, view);
  }

  async get(auth: AuthContext, id: string): Promise<WebhookView> {
    return view(await this.db.run(auth.workspaceId, (tx) => this.mustFind(tx, id)));
  }

  /** A new current secret; the previous one keeps signing beside it for `graceSeconds` (receivers accept either). */
  async rotateSecret(auth: AuthContext, id: string, dto: RotateWebhookSecretDto): Promise<IssuedWebhook> {
    let shown = '';
    const record = await this.db.run(auth.workspaceId, async (tx) => {
      await this.mustFind(tx, id);
      const version = await this.webhooks.nextSecretVersion(tx, id);
      const secret = await this.newSecret({ workspaceId: auth.workspaceId, endpointId: id, version });
      shown = secret.shown;
      await this.webhooks.rotateSecret(
        tx,
        { workspaceId: auth.workspaceId, endpointId: id, version },
        secret.sealed,
        new Date(Date.now() + dto.graceSeconds * 1000),
      );
      await this.audit.record(tx, { ...this.auditContext(auth, id), action: 'webhook.rotate_secret', metadata: { version, graceSeconds: dto.graceSeconds } });
      return this.mustFind(tx, id);
    });
    return { ...view(record), secret: shown };
  }

  /** Disabled: no new events are recorded for it and pending deliveries wait (not attempted); enabled: they resume. */
  async update(auth: AuthContext, id: string, dto: UpdateWebhookDto): Promise<WebhookView> {
    return view(
      await this.db.run(auth.workspaceId, async (tx) => {
        await this.mustFind(tx, id);
        await this.webhooks.setEnabled(tx, id, dto.enabled);
        await this.audit.record(tx, { ...this.auditContext(auth, id), action: dto.enabled ? 'webhook.enable' : 'webhook.disable' });
        return this.mustFind(tx, id);
      }),
    );
  }

  /** Nothing more is sent to the endpoint (pending deliveries end failed); its secret is crypto-shredded. */
  async delete(auth: AuthContext, id: string): Promise<void> {
    await this.db.run(auth.workspaceId, async (tx) => {
      await this.mustFind(tx, id);
      await this.webhooks.delete(tx, id);
      await this.audit.record(tx, { ...this.auditContext(auth, id), action: 'webhook.delete' });
    });
  }

  async deliveries(auth: AuthContext, id: string, query: ListRequest<DeliveryListFilter, TimeKey>): Promise<Page<DeliveryView>> {
    const rows = await this.db.run(auth.workspaceId, async (tx) => {
      await this.mustFind(tx, id);
      return this.webhooks.deliveries(tx, id, query.filter, query.page);
    });
    return toPage(rows, query.page, byCreatedAt, deliveryView);
  }

  /** A failed delivery goes back to the outbox: due at once, with a fresh set of attempts (its log keeps the old ones). */
  async retryDelivery(auth: AuthContext, id: string, deliveryId: string): Promise<DeliveryView> {
    return deliveryView(
      await this.db.run(auth.workspaceId, async (tx) => {
        await this.mustFind(tx, id);
        const delivery = await this.webhooks.findDelivery(tx, id, deliveryId);
        if (!delivery) throw Problem.notFound('Delivery');
        if (delivery.status !== 'failed')
          throw Problem.conflict('delivery_not_failed', `Only a failed delivery can be sent again; this one is ${delivery.status}.`);
        await this.webhooks.requeueDelivery(tx, deliveryId);
        await this.audit.record(tx, { ...this.auditContext(auth, id), action: 'webhook.retry_delivery', metadata: { deliveryId } });
        return (await this.webhooks.findDelivery(tx, id, deliveryId))!;
      }),
    );
  }

  /** The SSRF guard's verdict at registration: its refusal code as a 422 problem. */
  private async checkedUrl(raw: string): Promise<URL> {
    try {
      return (await this.guard.assertPublicUrl(raw)).url;
    } catch (err) {
      if (err instanceof OutboundError && err.urlRefused) throw Problem.unprocessable(err.code, err.message);
      throw err;
    }
  }

  private async newSecret(ref: { workspaceId: string; endpointId: string; version: number }): Promise<{ sealed: SealedSecret; shown: string }> {
    const key = randomBytes(SECRET_BYTES);
    try {
      const sealed = await sealSecret(this.kms, signingSecretContext(ref), key);
      return { sealed, shown: `whsec_${key.toString('base64')}` };
    } catch (err) {
      if (err instanceof KmsUnavailableError)
        throw Problem.unavailable('kms_unavailable', 'The key management service is unavailable, so nothing was stored; try again shortly.');
      throw err;
    } finally {
      key.fill(0);
    }
  }

  private async mustFind(tx: TenantTx, id: string): Promise<WebhookEndpointRecord> {
    const endpoint = await this.webhooks.find(tx, id);
    if (!endpoint) throw Problem.notFound('Webhook');
    return endpoint;
  }

  private auditContext(auth: AuthContext, id: string) {
    return { actor: auth.actor, resource: { type: 'webhook', id }, ip: auth.ip, requestId: auth.requestId };
  }
}

function view(e: WebhookEndpointRecord): WebhookView {
  return {
    id: e.id,
    url: e.url,
    events: e.events as WebhookView['events'],
    description: e.description,
    secretVersion: e.secretVersion,
    enabled: e.disabledAt === null,
    previousSecretValidUntil: e.previousSecretExpiresAt?.toISOString() ?? null,
    createdAt: e.createdAt.toISOString(),
  };
}

function deliveryView(d: WebhookDeliveryRecord): DeliveryView {
  return {
    id: d.id,
    eventType: d.eventType as DeliveryView['eventType'],
    orderId: d.orderId,
    status: d.status as DeliveryView['status'],
    attempts: d.attempts,
    attemptLog: d.attemptLog as DeliveryView['attemptLog'],
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
    payload: d.payload as DeliveryView['payload'],
  };
}
