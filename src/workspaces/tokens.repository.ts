import { Injectable } from '@nestjs/common';
import type { TenantTx } from '../database/tenant-db';
import type { Role } from './auth/auth-context';

export interface TokenRecord {
  id: string;
  name: string;
  tokenHint: string;
  role: Role;
  createdBy: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

const TOKEN_FIELDS = { id: true, name: true, tokenHint: true, role: true, createdBy: true, expiresAt: true, revokedAt: true, createdAt: true } as const;

@Injectable()
export class TokensRepository {
  async create(
    tx: TenantTx,
    data: { id: string; workspaceId: string; name: string; tokenHash: Buffer; tokenHint: string; role: Role; createdBy?: string; expiresAt?: Date },
  ): Promise<TokenRecord> {
    const { tokenHash, ...rest } = data;
    return (await tx.apiToken.create({ data: { ...rest, tokenHash: new Uint8Array(tokenHash) }, select: TOKEN_FIELDS })) as TokenRecord;
  }

  async list(tx: TenantTx): Promise<TokenRecord[]> {
    return (await tx.apiToken.findMany({ select: TOKEN_FIELDS, orderBy: { createdAt: 'asc' } })) as TokenRecord[];
  }

  async find(tx: TenantTx, id: string): Promise<TokenRecord | null> {
    return (await tx.apiToken.findUnique({ where: { id }, select: TOKEN_FIELDS })) as TokenRecord | null;
  }

  async revoke(tx: TenantTx, id: string): Promise<TokenRecord> {
    return (await tx.apiToken.update({ where: { id }, data: { revokedAt: new Date() }, select: TOKEN_FIELDS })) as TokenRecord;
  }
}
