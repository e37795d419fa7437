import { Injectable } from '@nestjs/common';
import { byCreatedAt, PageRequest, TimeKey } from '../common/pagination';
import type { TenantTx } from '../database/tenant-db';
import type { SealedSecret } from '../kms/envelope';

export interface WebhookEndpointRecord {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  secretVersion: number;
  disabledAt: Date | null;
  createdAt: Date;
  /** When the newest rotated-out secret stops signing; null when none is in its grace period. */
  previousSecretExpiresAt: Date | null;
}

export interface WebhookDeliveryRecord {
  id: string;
  orderId: string;
  eventType: string;
  payload: unknown;
  status: string;
  attempts: number;
  attemptLog: unknown;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

const DELIVERY_FIELDS = {
  id: true,
  orderId: true,
  eventType: true,
  payload: true,
  status: true,
  attempts: true,
  attemptLog: true,
  nextAttemptAt: true,
  lastAttemptAt: true,
  lastStatusCode: true,
  lastError: true,
  deliveredAt: true,
  createdAt: true,
} as const;

const ENDPOINT_FIELDS = { id: true, url: true, events: true, description: true, secretVersion: true, disabledAt: true, createdAt: true } as const;

type EndpointRow = Omit<WebhookEndpointRecord, 'previousSecretExpiresAt'>;

type SecretRef = { workspaceId: string; endpointId: string; version: number };

/**
 * Order-webhook endpoints and their deliveries for the api role (Prisma). Sealed signing secrets are written
 * (createMany: no RETURNING, which would need SELECT on the secret columns) and deleted (crypto-shredding), never read.
 */
@Injectable()
export class WebhooksRepository {
  async create(
    tx: TenantTx,
    data: { id: string; workspaceId: string; url: string; events: string[]; description?: string; createdBy: string },
  ): Promise<WebhookEndpointRecord> {
    return { ...(await tx.webhookEndpoint.create({ data, select: ENDPOINT_FIELDS })), previousSecretExpiresAt: null };
  }

  async list(tx: TenantTx, page: PageRequest<TimeKey>): Promise<WebhookEndpointRecord[]> {
    const rows = await tx.webhookEndpoint.findMany({
      where: { deletedAt: null, ...byCreatedAt.after(page.after) },
      select: ENDPOINT_FIELDS,
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    });
    return this.withGrace(tx, rows);
  }

  async find(tx: TenantTx, id: string): Promise<WebhookEndpointRecord | null> {
    const row = await tx.webhookEndpoint.findFirst({ where: { id, deletedAt: null }, select: ENDPOINT_FIELDS });
    return row ? (await this.withGrace(tx, [row]))[0] : null;
  }

  /** Adds each endpoint's newest grace deadline (one query for the page). */
  private async withGrace(tx: TenantTx, rows: EndpointRow[]): Promise<WebhookEndpointRecord[]> {
    const graces =
      rows.length === 0
        ? []
        : await tx.webhookEndpointSecret.findMany({
            where: { endpointId: { in: rows.map((r) => r.id) }, expiresAt: { gt: new Date() } },
            select: { endpointId: true, expiresAt: true },
          });
    const latest = new Map<string, Date>();
    for (const g of graces) if (!latest.has(g.endpointId) || g.expiresAt! > latest.get(g.endpointId)!) latest.set(g.endpointId, g.expiresAt!);
    return rows.map((r) => ({ ...r, previousSecretExpiresAt: latest.get(r.id) ?? null }));
  }

  async countActive(tx: TenantTx): Promise<number> {
    return tx.webhookEndpoint.count({ where: { deletedAt: null } });
  }

  /** Takes the next secret version, locking the endpoint row until the transaction ends. */
  async nextSecretVersion(tx: TenantTx, id: string): Promise<number> {
    const row = await tx.webhookEndpoint.update({ where: { id }, data: { secretVersion: { increment: 1 } }, select: { secretVersion: true } });
    return row.secretVersion;
  }

  /**
   * Adds the new current secret; the previous current one keeps signing until `graceUntil`; versions whose grace
   * has ended (all of them, with no grace) are shredded.
   */
  async rotateSecret(tx: TenantTx, ref: SecretRef, sealed: SealedSecret, graceUntil: Date): Promise<void> {
    await tx.webhookEndpointSecret.updateMany({
      where: { endpointId: ref.endpointId, OR: [{ expiresAt: null }, { expiresAt: { gt: graceUntil } }] },
      data: { expiresAt: graceUntil },
    });
    await tx.webhookEndpointSecret.deleteMany({ where: { endpointId: ref.endpointId, expiresAt: { lte: new Date() } } });
    await this.addSecret(tx, ref, sealed);
  }

  async addSecret(tx: TenantTx, ref: SecretRef, sealed: SealedSecret): Promise<void> {
    await tx.webhookEndpointSecret.createMany({
      data: [
        {
          ...ref,
          formatVersion: sealed.formatVersion,
          algorithm: sealed.algorithm,
          kmsKeyId: sealed.kmsKeyId,
          wrappedKey: new Uint8Array(sealed.wrappedKey),
          iv: new Uint8Array(sealed.iv),
          tag: new Uint8Array(sealed.tag),
          ciphertext: new Uint8Array(sealed.ciphertext),
        },
      ],
    });
  }

  /** Disables (now) or enables the endpoint; disabling an already disabled one keeps its first time. */
  async setEnabled(tx: TenantTx, id: string, enabled: boolean): Promise<void> {
    await tx.webhookEndpoint.updateMany({
      where: { id, deletedAt: null, ...(enabled ? {} : { disabledAt: null }) },
      data: { disabledAt: enabled ? null : new Date() },
    });
  }

  /** The endpoint receives nothing more; its secret is crypto-shredded; its deliveries stay readable. */
  async delete(tx: TenantTx, id: string): Promise<void> {
    await tx.webhookEndpoint.update({ where: { id }, data: { deletedAt: new Date() }, select: { id: true } });
    await tx.webhookEndpointSecret.deleteMany({ where: { endpointId: id } });
  }

  async deliveries(tx: TenantTx, endpointId: string, filter: { status?: string }, page: PageRequest<TimeKey>): Promise<WebhookDeliveryRecord[]> {
    return tx.webhookDelivery.findMany({
      where: { endpointId, ...(filter.status && { status: filter.status }), ...byCreatedAt.after(page.after) },
      select: DELIVERY_FIELDS,
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    });
  }

  async findDelivery(tx: TenantTx, endpointId: string, id: string): Promise<WebhookDeliveryRecord | null> {
    return tx.webhookDelivery.findFirst({ where: { id, endpointId }, select: DELIVERY_FIELDS });
  }

  /** Back to pending, due now, attempts counted afresh; only a failed delivery (the caller checked, the WHERE re-checks). */
  async requeueDelivery(tx: TenantTx, id: string): Promise<void> {
    await tx.webhookDelivery.updateMany({ where: { id, status: 'failed' }, data: { status: 'pending', attempts: 0, nextAttemptAt: new Date() } });
  }
}
