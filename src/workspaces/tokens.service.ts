import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import { byCreatedAt, Page, PageRequest, TimeKey, toPage } from '../common/pagination';
import { Problem } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb, TenantTx } from '../database/tenant-db';
import { AuthContext, Role, roleAtLeast } from '../common/auth/auth-context';
import { generateToken, sha256, tokenHint } from '../common/bearer-secrets';
import type { CreateTokenDto, IssuedToken, TokenView } from './dto/workspace.dto';
import { TokenRecord, TokensRepository } from './tokens.repository';

const DAY_MS = 86_400_000;

/** What a token is issued with: `createdBy` is the member who answers for it. */
export interface TokenSpec {
  name: string;
  role: Role;
  createdBy: string;
  createdVia?: string;
  bootstrap?: boolean;
  expiresAt?: Date;
}

function toView(t: TokenRecord): TokenView {
  return {
    id: t.id,
    name: t.name,
    hint: t.tokenHint,
    role: t.role,
    createdBy: t.createdBy,
    createdVia: t.createdVia,
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
  };
}

@Injectable()
export class TokensService {
  constructor(
    private readonly db: TenantDb,
    private readonly tokens: TokensRepository,
    private readonly audit: AuditWriter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async issue(tx: TenantTx, workspaceId: string, spec: TokenSpec): Promise<IssuedToken> {
    const value = generateToken('sy');
    const record = await this.tokens.create(tx, { id: randomUUID(), workspaceId, tokenHash: sha256(value), tokenHint: tokenHint(value), ...spec });
    return { ...toView(record), token: value };
  }

  async create(auth: AuthContext, dto: CreateTokenDto): Promise<IssuedToken> {
    if (!roleAtLeast(auth.role, dto.role)) throw Problem.forbidden('A token cannot have a higher role than its creator.');
    const expiresAt = this.expiry(auth, dto.expiresInDays);
    // A token minted by a token belongs to the member behind that token: the chain never outlives her.
    const spec: TokenSpec = {
      name: dto.name,
      role: dto.role,
      createdBy: auth.memberId,
      createdVia: auth.actor.type === 'token' ? auth.actor.id : undefined,
      expiresAt,
    };
    return this.db.run(auth.workspaceId, async (tx) => {
      const token = await this.issue(tx, auth.workspaceId, spec);
      await this.audit.record(tx, tokenEvent(auth, 'token.create', token.id, { role: token.role, expires: token.expiresAt ?? 'never' }));
      return token;
    });
  }

  async list(auth: AuthContext, page: PageRequest<TimeKey>): Promise<Page<TokenView>> {
    return toPage(await this.db.run(auth.workspaceId, (tx) => this.tokens.list(tx, page)), page, byCreatedAt, toView);
  }

  /** Revokes the token and the tokens minted through it. Nobody acts on a token of a higher role or of a higher-role member (as with member removal), but a token may revoke itself. */
  async revoke(auth: AuthContext, id: string): Promise<TokenView> {
    return this.db.run(auth.workspaceId, async (tx) => {
      const token = await this.tokens.find(tx, id);
      if (!token) throw Problem.notFound('Token');
      const itself = auth.actor.type === 'token' && auth.actor.id === id;
      if (!itself && (!roleAtLeast(auth.role, token.role) || (token.creatorRole && !roleAtLeast(auth.role, token.creatorRole)))) {
        throw Problem.forbidden('You cannot revoke a token of a higher role or of a member with a higher role.', 'higher_role');
      }
      if (token.revokedAt) return toView(token);
      const revoked = await this.tokens.revokeWithDescendants(tx, id);
      await this.audit.record(tx, tokenEvent(auth, 'token.revoke', id, { role: token.role, revoked }));
      const after = await this.tokens.find(tx, id);
      return toView(after ?? token);
    });
  }

  /** The default is the configured maximum lifetime; longer is refused; "never" is the owner's alone. */
  private expiry(auth: AuthContext, asked: CreateTokenDto['expiresInDays']): Date | undefined {
    const maxDays = this.config.auth.tokenMaxLifetimeDays;
    if (asked === 'never') {
      if (auth.role !== 'owner') throw Problem.forbidden('Only an owner may create a token that never expires.', 'token_never_expires_owner_only');
      return undefined;
    }
    if (asked !== undefined && asked > maxDays) {
      throw Problem.unprocessable('token_lifetime_too_long', `A token lives at most ${maxDays} days here.`, { maxDays });
    }
    return new Date(Date.now() + (asked ?? maxDays) * DAY_MS);
  }
}

function tokenEvent(auth: AuthContext, action: 'token.create' | 'token.revoke', tokenId: string, metadata: Record<string, string | number>) {
  return { action, actor: auth.actor, ip: auth.ip, requestId: auth.requestId, resource: { type: 'token', id: tokenId }, metadata };
}
