import { Injectable } from '@nestjs/common';
import type { BrokerEnvironment, BrokerName, PermissionReport } from '../brokers/broker-adapter';
import { byCreatedAt, PageRequest, TimeKey } from '../common/pagination';
import type { TenantTx } from '../database/tenant-db';
import type { CredentialRef, SealedCredential } from './credential-sealer';

export type ConnectionStatus = 'active' | 'revoked';
export type BrokerRevocation = 'revoked' | 'not_supported_by_broker' | 'not_applicable';
/** The permission report as stored: keyHint has its own column. */
export type StoredPermissions = Omit<PermissionReport, 'keyHint'>;

export interface ConnectionRecord {
  id: string;
  broker: BrokerName;
  label: string;
  environment: BrokerEnvironment;
  status: ConnectionStatus;
  credentialVersion: number;
  keyHint: string;
  permissions: StoredPermissions;
  inspectedAt: Date;
  createdAt: Date;
  rotatedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  brokerRevocation: BrokerRevocation | null;
}

const CONNECTION_FIELDS = {
  id: true,
  broker: true,
  label: true,
  environment: true,
  status: true,
  credentialVersion: true,
  keyHint: true,
  permissions: true,
  inspectedAt: true,
  createdAt: true,
  rotatedAt: true,
  revokedAt: true,
  revokedBy: true,
  brokerRevocation: true,
} as const;

/**
 * Queries over broker_connections and credential_versions for the api role. Sealed secrets are
 * written (createMany: no RETURNING, which would need SELECT on the secret columns) and deleted, never read.
 */
@Injectable()
export class ConnectionsRepository {
  async insert(
    tx: TenantTx,
    data: {
      id: string;
      workspaceId: string;
      broker: BrokerName;
      label: string;
      environment: BrokerEnvironment;
      keyHint: string;
      permissions: StoredPermissions;
    },
  ): Promise<ConnectionRecord> {
    const record = await tx.brokerConnection.create({
      data: { ...data, credentialVersion: 1, inspectedAt: new Date() },
      select: CONNECTION_FIELDS,
    });
    return record as ConnectionRecord;
  }

  async insertVersion(tx: TenantTx, ref: CredentialRef, sealed: SealedCredential): Promise<void> {
    await tx.credentialVersion.createMany({
      data: [
        {
          workspaceId: ref.workspaceId,
          connectionId: ref.connectionId,
          version: ref.version,
          formatVersion: sealed.formatVersion,
          algorithm: sealed.algorithm,
          kmsProvider: sealed.kmsProvider,
          kmsKeyId: sealed.kmsKeyId,
          wrappedKey: new Uint8Array(sealed.wrappedKey),
          iv: new Uint8Array(sealed.iv),
          tag: new Uint8Array(sealed.tag),
          ciphertext: new Uint8Array(sealed.ciphertext),
        },
      ],
    });
  }

  async list(tx: TenantTx, page: PageRequest<TimeKey>): Promise<ConnectionRecord[]> {
    return (await tx.brokerConnection.findMany({
      where: byCreatedAt.after(page.after),
      select: CONNECTION_FIELDS,
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    })) as ConnectionRecord[];
  }

  async find(tx: TenantTx, id: string): Promise<ConnectionRecord | null> {
    return (await tx.brokerConnection.findUnique({ where: { id }, select: CONNECTION_FIELDS })) as ConnectionRecord | null;
  }

  /** Moves an active connection from `fromVersion` to the next; false when it was revoked or rotated meanwhile. */
  async advanceVersion(tx: TenantTx, id: string, fromVersion: number, data: { keyHint: string; permissions: StoredPermissions }): Promise<boolean> {
    const now = new Date();
    const { count } = await tx.brokerConnection.updateMany({
      where: { id, status: 'active', credentialVersion: fromVersion },
      data: { ...data, credentialVersion: fromVersion + 1, inspectedAt: now, rotatedAt: now },
    });
    return count === 1;
  }

  /** Marks an active connection revoked; false when it already was. */
  async markRevoked(tx: TenantTx, id: string, data: { revokedBy: string; brokerRevocation: BrokerRevocation }): Promise<boolean> {
    const { count } = await tx.brokerConnection.updateMany({
      where: { id, status: 'active' },
      data: { ...data, status: 'revoked', revokedAt: new Date() },
    });
    return count === 1;
  }

  /** Crypto-shred: deletes the versions (wrapped data key and ciphertext) below `beforeVersion`, or all of them. */
  async shredVersions(tx: TenantTx, connectionId: string, beforeVersion?: number): Promise<number> {
    const { count } = await tx.credentialVersion.deleteMany({
      where: { connectionId, ...(beforeVersion === undefined ? {} : { version: { lt: beforeVersion } }) },
    });
    return count;
  }
}
