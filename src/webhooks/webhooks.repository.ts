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
  createdAt: Date;
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

const ENDPOINT_FIELDS = { id: true, url: true, events: true, description: true, secretVersion: true, createdAt: true } as const;

/**
 * Order-webhook endpoints and their deliveries for the api role (Prisma). Sealed signing secrets are written
 * (createMany: no RETURNING, which would need SELECT on the secret columns) and deleted, never read.
 */
@Injectable()
export class WebhooksRepository {
  async create(tx: TenantTx, data: { id: string; workspaceId: string; url: string; events: string[]; description?: string; createdBy: string }): Promise<WebhookEndpointRecord> {
    return tx.webhookEndpoint.create({ data, select: ENDPOINT_FIELDS });
  }

  async list(tx: TenantTx, page: PageRequest<TimeKey>): Promise<WebhookEndpointRecord[]> {
    return tx.webhookEndpoint.findMany({
      where: { deletedAt: null, ...byCreatedAt.after(page.after) },
      select: ENDPOINT_FIELDS,
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    });
  }

  async find(tx: TenantTx, id: string): Promise<WebhookEndpointRecord | null> {
    return tx.webhookEndpoint.findFirst({ where: { id, deletedAt: null }, select: ENDPOINT_FIELDS });
  }

  /** Takes the next secret version, locking the endpoint row until the transaction ends. */
  async nextSecretVersion(tx: TenantTx, id: string): Promise<number> {
    const row = await tx.webhookEndpoint.update({ where: { id }, data: { secretVersion: { increment: 1 } }, select: { secretVersion: true } });
    return row.secretVersion;
  }

  /** Stores the sealed secret of `version` and shreds every other version of the endpoint. */
  async replaceSecret(tx: TenantTx, ref: { workspaceId: string; endpointId: string; version: number }, sealed: SealedSecret): Promise<void> {
    await tx.webhookEndpointSecret.deleteMany({ where: { endpointId: ref.endpointId } });
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

  /** The endpoint receives nothing more; its secret is crypto-shredded; its deliveries stay readable. */
  async delete(tx: TenantTx, id: string): Promise<void> {
    await tx.webhookEndpoint.update({ where: { id }, data: { deletedAt: new Date() }, select: { id: true } });
    await tx.webhookEndpointSecret.deleteMany({ where: { endpointId: id } });
  }

  async deliveries(tx: TenantTx, endpointId: string, page: PageRequest<TimeKey>): Promise<WebhookDeliveryRecord[]> {
    return tx.webhookDelivery.findMany({
      where: { endpointId, ...byCreatedAt.after(page.after) },
      select: {
        id: true, orderId: true, eventType: true, payload: true, status: true, attempts: true, attemptLog: true, nextAttemptAt: true,
        lastAttemptAt: true, lastStatusCode: true, lastError: true, deliveredAt: true, createdAt: true,
      },
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    });
  }
}
