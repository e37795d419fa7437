import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../../database/database.tokens';
import type { AuditEventInput } from '../../audit/audit-event';
import { AuditWriter } from '../../audit/audit-writer';
import { TenantDb } from '../../database/tenant-db';
import type { MemberJwtId, Role } from '../../common/auth/auth-context';

export interface ResolvedToken {
  id: string;
  workspaceId: string;
  role: Role;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** The member who answers for the token and her current role; null once she is removed. */
  creatorId: string | null;
  creatorRole: Role | null;
  lastUsedAt: Date | null;
}

export interface LoginCandidate {
  id: string;
  workspaceId: string;
  role: Role;
  passwordHash: string | null;
}

/** Lookups that happen before the workspace is known: only through the resolver functions. */
@Injectable()
export class AuthRepository {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly db: TenantDb,
    private readonly audit: AuditWriter,
  ) {}

  async findToken(hash: Buffer): Promise<ResolvedToken | undefined> {
    const { rows } = await this.pool.query(
      `SELECT id, workspace_id AS "workspaceId", role, expires_at AS "expiresAt", revoked_at AS "revokedAt",
              creator_id AS "creatorId", creator_role AS "creatorRole", last_used_at AS "lastUsedAt"
         FROM auth_resolve_api_token($1)`,
      [hash],
    );
    return rows[0];
  }

  async findLoginCandidates(email: string): Promise<LoginCandidate[]> {
    const { rows } = await this.pool.query(
      'SELECT id, workspace_id AS "workspaceId", role, password_hash AS "passwordHash" FROM auth_resolve_member_login($1)',
      [email],
    );
    return rows;
  }

  /** Failed authentication against a known workspace (revoked/expired token, wrong password): its audit trail records it. */
  async recordFailure(
    workspaceId: string,
    failure: { actor: { type: 'token' | 'user'; id: string }; ip: string; requestId: string; reason: string },
  ): Promise<void> {
    await this.db.run(workspaceId, (tx) =>
      this.audit.record(tx, {
        action: 'auth.failure',
        actor: failure.actor,
        ip: failure.ip,
        requestId: failure.requestId,
        reason: failure.reason,
        resource: { type: failure.actor.type === 'token' ? 'token' : 'member', id: failure.actor.id },
      }),
    );
  }

  /** An authentication event in one workspace's trail, or the platform chain's (PLATFORM_WORKSPACE_ID) when no workspace is known. */
  async recordEvent(workspaceId: string, event: AuditEventInput): Promise<void> {
    await this.db.run(workspaceId, (tx) => this.audit.record(tx, event));
  }

  /** Stamps a token's last use, at most once per `everyMs`: the check and the write are one conditional UPDATE. */
  async touchToken(workspaceId: string, tokenId: string, everyMs: number): Promise<void> {
    const since = new Date(Date.now() - everyMs);
    await this.db.run(workspaceId, (tx) =>
      tx.apiToken.updateMany({ where: { id: tokenId, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: since } }] }, data: { lastUsedAt: new Date() } }),
    );
  }

  /** A member logged in: the workspace's bootstrap token (from its creation) has done its job and expires now. */
  async endBootstrap(workspaceId: string): Promise<void> {
    const now = new Date();
    await this.db.run(workspaceId, (tx) =>
      tx.apiToken.updateMany({ where: { bootstrap: true, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] }, data: { expiresAt: now } }),
    );
  }

  /** The member's current role, unless she is removed or this JWT (`jti`) was signed out. */
  async activeMemberRole(workspaceId: string, memberId: string, jti: string): Promise<Role | undefined> {
    const [member, revoked] = await this.db.run(workspaceId, (tx) =>
      Promise.all([
        tx.member.findFirst({ where: { id: memberId, removedAt: null }, select: { role: true } }),
        tx.revokedJwt.findUnique({ where: { jti }, select: { jti: true } }),
      ]),
    );
    return revoked ? undefined : (member?.role as Role | undefined);
  }

  /** Records a signed-out JWT (kept until it would have expired; expired ones are swept here) with its audit event. */
  async revokeJwt(workspaceId: string, memberId: string, jwt: MemberJwtId, event: AuditEventInput): Promise<void> {
    await this.db.run(workspaceId, async (tx) => {
      await tx.revokedJwt.deleteMany({ where: { expiresAt: { lt: new Date() } } });
      await tx.revokedJwt.createMany({ data: [{ jti: jwt.jti, workspaceId, memberId, expiresAt: jwt.expiresAt }], skipDuplicates: true });
      await this.audit.record(tx, event);
    });
  }
}
