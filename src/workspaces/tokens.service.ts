import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import { Problem } from '../common/problem';
import { TenantDb, TenantTx } from '../database/tenant-db';
import { AuthContext, Role, roleAtLeast } from './auth/auth-context';
import { generateToken, sha256, tokenHint } from './auth/secrets';
import type { CreateTokenDto } from './dto/workspace.dto';
import { TokenRecord, TokensRepository } from './tokens.repository';

export interface TokenView {
  id: string;
  name: string;
  hint: string;
  role: Role;
  expiresAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

/** A freshly issued token: the only time its value is ever shown. */
export interface IssuedToken extends TokenView {
  token: string;
}

function toView(t: TokenRecord): TokenView {
  return {
    id: t.id,
    name: t.name,
    hint: t.tokenHint,
    role: t.role,
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
  };
}

@Injectable()
export class TokensService {
  constructor(
    private readonly db: TenantDb,
    private readonly tokens: TokensRepository,
    private readonly audit: AuditWriter,
  ) {}

  async issue(tx: TenantTx, workspaceId: string, spec: { name: string; role: Role; createdBy?: string; expiresAt?: Date }): Promise<IssuedToken> {
    const value = generateToken('sy');
    const record = await this.tokens.create(tx, { id: randomUUID(), workspaceId, tokenHash: sha256(value), tokenHint: tokenHint(value), ...spec });
    return { ...toView(record), token: value };
  }

  async create(auth: AuthContext, dto: CreateTokenDto): Promise<IssuedToken> {
    if (!roleAtLeast(auth.role, dto.role)) throw Problem.forbidden('A token cannot have a higher role than its creator.');
    const expiresAt = dto.expiresInDays ? new Date(Date.now() + dto.expiresInDays * 86_400_000) : undefined;
    return this.db.run(auth.workspaceId, async (tx) => {
      const token = await this.issue(tx, auth.workspaceId, { name: dto.name, role: dto.role, createdBy: auth.actor.id, expiresAt });
      await this.audit.record(tx, tokenEvent(auth, 'token.create', token.id, token.role));
      return token;
    });
  }

  async list(auth: AuthContext): Promise<TokenView[]> {
    return (await this.db.run(auth.workspaceId, (tx) => this.tokens.list(tx))).map(toView);
  }

  async revoke(auth: AuthContext, id: string): Promise<TokenView> {
    return this.db.run(auth.workspaceId, async (tx) => {
      const token = await this.tokens.find(tx, id);
      if (!token) throw Problem.notFound('Token');
      if (token.revokedAt) return toView(token);
      const revoked = await this.tokens.revoke(tx, id);
      await this.audit.record(tx, tokenEvent(auth, 'token.revoke', id, token.role));
      return toView(revoked);
    });
  }
}

function tokenEvent(auth: AuthContext, action: 'token.create' | 'token.revoke', tokenId: string, role: string) {
  return { action, actor: auth.actor, ip: auth.ip, requestId: auth.requestId, resource: { type: 'token', id: tokenId }, metadata: { role } };
}
