import { Injectable } from '@nestjs/common';
import { byCreatedAt, PageRequest, TimeKey } from '../common/pagination';
import type { TenantTx } from '../database/tenant-db';
import type { Role } from '../common/auth/auth-context';

export interface TokenRecord {
  id: string;
  name: string;
  tokenHint: string;
  role: Role;
  createdBy: string | null;
  createdVia: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

/** A token with the current role of the member who answers for it (null once she is removed). */
export interface TokenWithCreator extends TokenRecord {
  creatorRole: Role | null;
}

const TOKEN_FIELDS = {
  id: true,
  name: true,
  tokenHint: true,
  role: true,
  createdBy: true,
  createdVia: true,
  expiresAt: true,
  revokedAt: true,
  lastUsedAt: true,
  createdAt: true,
} as const;

@Injectable()
export class TokensRepository {
  async create(
    tx: TenantTx,
    data: {
      id: string;
      workspaceId: string;
      name: string;
      tokenHash: Buffer;
      tokenHint: string;
      role: Role;
      createdBy: string;
      createdVia?: string;
      bootstrap?: boolean;
      expiresAt?: Date;
    },
  ): Promise<TokenRecord> {
    const { tokenHash, ...rest } = data;
    return (await tx.apiToken.create({ data: { ...rest, tokenHash: new Uint8Array(tokenHash) }, select: TOKEN_FIELDS })) as TokenRecord;
  }

  async list(tx: TenantTx, page: PageRequest<TimeKey>): Promise<TokenRecord[]> {
    return (await tx.apiToken.findMany({
      where: byCreatedAt.after(page.after),
      select: TOKEN_FIELDS,
      orderBy: byCreatedAt.orderBy,
      take: page.limit + 1,
    })) as TokenRecord[];
  }

  async find(tx: TenantTx, id: string): Promise<TokenWithCreator | null> {
    const row = await tx.apiToken.findUnique({ where: { id }, select: { ...TOKEN_FIELDS, creator: { select: { role: true, removedAt: true } } } });
    if (!row) return null;
    const { creator, ...token } = row;
    return { ...(token as TokenRecord), creatorRole: creator && !creator.removedAt ? (creator.role as Role) : null };
  }

  /** Revokes the token and every token minted through it, however deep; how many it revoked. */
  async revokeWithDescendants(tx: TenantTx, id: string): Promise<number> {
    return tx.$executeRaw`
      WITH RECURSIVE chain AS (
        SELECT id FROM api_tokens WHERE id = ${id}::uuid
        UNION SELECT t.id FROM api_tokens t JOIN chain ON t.created_via = chain.id
      )
      UPDATE api_tokens SET revoked_at = now() WHERE id IN (SELECT id FROM chain) AND revoked_at IS NULL`;
  }

  /** Revokes every live token a member answers for; how many. */
  async revokeForMember(tx: TenantTx, memberId: string): Promise<number> {
    const { count } = await tx.apiToken.updateMany({ where: { createdBy: memberId, revokedAt: null }, data: { revokedAt: new Date() } });
    return count;
  }
}
