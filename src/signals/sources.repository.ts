import { Injectable } from '@nestjs/common';
import { byCreatedAt, PageRequest, TimeKey } from '../common/pagination';
import { TenantDb, TenantTx } from '../database/tenant-db';
import type { SealedSecret } from '../kms/envelope';

export type SourceAuthMode = 'hmac' | 'token';

export interface SourceRecord {
  id: string;
  name: string;
  authMode: SourceAuthMode;
  allowedIps: string[];
  secretVersion: number;
  createdAt: Date;
  /** When the newest rotated-out version stops working; null when none is in its grace period. */
  previousSecretExpiresAt: Date | null;
}

/** Token mode stores the token's SHA-256; hmac mode the sealed signing key. */
export type SecretMaterial = { tokenHash: Buffer } | { sealed: SealedSecret };

const SOURCE_FIELDS = { id: true, name: true, authMode: true, allowedIps: true, secretVersion: true, createdAt: true } as const;

type SourceRow = Omit<SourceRecord, 'previousSecretExpiresAt' | 'authMode'> & { authMode: string };

// Crypto-shredding: the hash and every sealed byte go; version, times and the row remain.
const SHREDDED = { tokenHash: null, formatVersion: null, algorithm: null, kmsKeyId: null, wrappedKey: null, iv: null, tag: null, ciphertext: null } as const;

/** Sources and their versioned secrets (management API, through Prisma). */
@Injectable()
export class SourcesRepository {
  constructor(private readonly db: TenantDb) {}

  async create(
    tx: TenantTx,
    data: { id: string; workspaceId: string; name: string; authMode: SourceAuthMode; allowedIps: string[]; createdBy: string },
    secret: SecretMaterial,
  ): Promise<SourceRecord> {
    const source = await tx.source.create({ data, select: SOURCE_FIELDS });
    await tx.sourceSecret.create({ data: { workspaceId: data.workspaceId, sourceId: data.id, version: 1, ...secretColumns(secret) } });
    return toRecord(source, null);
  }

  async list(tx: TenantTx, page: PageRequest<TimeKey>): Promise<SourceRecord[]> {
    const rows = await tx.source.findMany({
      where: { deletedAt: null, ...byCreatedAt.after(page.after) },
      select: { ...SOURCE_FIELDS, secrets: graceSelect() },
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    });
    return rows.map((r) => toRecord(r, r.secrets[0]?.expiresAt ?? null));
  }

  async find(tx: TenantTx, id: string): Promise<SourceRecord | null> {
    const row = await tx.source.findFirst({ where: { id, deletedAt: null }, select: { ...SOURCE_FIELDS, secrets: graceSelect() } });
    return row ? toRecord(row, row.secrets[0]?.expiresAt ?? null) : null;
  }

  /** Takes the next version number, locking the source row until the transaction ends. */
  async nextSecretVersion(tx: TenantTx, id: string): Promise<number> {
    const row = await tx.source.update({ where: { id }, data: { secretVersion: { increment: 1 } }, select: { secretVersion: true } });
    return row.secretVersion;
  }

  /**
   * Adds the new current version; the previous current one keeps working until `graceUntil`;
   * versions whose grace has ended (all of them, with no grace) are shredded.
   */
  async addSecretVersion(tx: TenantTx, workspaceId: string, sourceId: string, version: number, secret: SecretMaterial, graceUntil: Date): Promise<void> {
    const now = new Date();
    await tx.sourceSecret.updateMany({
      where: { sourceId, destroyedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: graceUntil } }] },
      data: { expiresAt: graceUntil },
    });
    await tx.sourceSecret.updateMany({ where: { sourceId, destroyedAt: null, expiresAt: { lte: now } }, data: { ...SHREDDED, destroyedAt: now } });
    await tx.sourceSecret.create({ data: { workspaceId, sourceId, version, ...secretColumns(secret) } });
  }

  /** Deletes the source: no secret version authenticates any more and all of them are shredded. */
  async delete(tx: TenantTx, id: string): Promise<void> {
    const now = new Date();
    await tx.source.update({ where: { id }, data: { deletedAt: now } });
    await tx.sourceSecret.updateMany({ where: { sourceId: id, destroyedAt: null }, data: { ...SHREDDED, expiresAt: now, destroyedAt: now } });
  }

  /** The sealed HMAC key of one version, read inside the workspace's RLS scope. */
  async findSealedSecret(workspaceId: string, sourceId: string, version: number): Promise<SealedSecret | undefined> {
    const row = await this.db.run(workspaceId, (tx) =>
      tx.sourceSecret.findFirst({
        where: { sourceId, version, destroyedAt: null, ciphertext: { not: null } },
        select: { formatVersion: true, algorithm: true, kmsKeyId: true, wrappedKey: true, iv: true, tag: true, ciphertext: true },
      }),
    );
    if (!row) return undefined;
    return {
      formatVersion: row.formatVersion as 1,
      algorithm: row.algorithm as SealedSecret['algorithm'],
      kmsKeyId: row.kmsKeyId!,
      wrappedKey: Buffer.from(row.wrappedKey!),
      iv: Buffer.from(row.iv!),
      tag: Buffer.from(row.tag!),
      ciphertext: Buffer.from(row.ciphertext!),
    };
  }
}

function graceSelect() {
  return { where: { destroyedAt: null, expiresAt: { gt: new Date() } }, select: { expiresAt: true }, orderBy: { version: 'desc' as const }, take: 1 };
}

function toRecord(row: SourceRow, previousSecretExpiresAt: Date | null): SourceRecord {
  return {
    id: row.id,
    name: row.name,
    authMode: row.authMode as SourceAuthMode,
    allowedIps: row.allowedIps,
    secretVersion: row.secretVersion,
    createdAt: row.createdAt,
    previousSecretExpiresAt,
  };
}

function secretColumns(secret: SecretMaterial) {
  if ('tokenHash' in secret) return { tokenHash: new Uint8Array(secret.tokenHash) };
  const s = secret.sealed;
  return {
    formatVersion: s.formatVersion,
    algorithm: s.algorithm,
    kmsKeyId: s.kmsKeyId,
    wrappedKey: new Uint8Array(s.wrappedKey),
    iv: new Uint8Array(s.iv),
    tag: new Uint8Array(s.tag),
    ciphertext: new Uint8Array(s.ciphertext),
  };
}
