import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../../database/database.tokens';
import { TenantDb } from '../../database/tenant-db';
import type { Role } from '../../common/auth/auth-context';

export interface ResolvedSession {
  id: string;
  workspaceId: string;
  memberId: string;
  /** The member's current role; null once she is removed. */
  role: Role | null;
  lastSeenAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** Console session rows: found by cookie hash through the resolver function, written inside their workspace. */
@Injectable()
export class SessionsRepository {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly db: TenantDb,
  ) {}

  async create(session: { id: string; workspaceId: string; memberId: string; tokenHash: Buffer; expiresAt: Date }): Promise<void> {
    const { tokenHash, ...rest } = session;
    await this.db.run(session.workspaceId, (tx) => tx.consoleSession.create({ data: { ...rest, tokenHash: new Uint8Array(tokenHash) } }));
  }

  async find(hash: Buffer): Promise<ResolvedSession | undefined> {
    const { rows } = await this.pool.query(
      `SELECT id, workspace_id AS "workspaceId", member_id AS "memberId", role, last_seen_at AS "lastSeenAt",
              expires_at AS "expiresAt", revoked_at AS "revokedAt"
         FROM auth_resolve_console_session($1)`,
      [hash],
    );
    return rows[0];
  }

  /** Stamps use at most once per `everyMs`: the idle clock needs no more precision than that. */
  async touch(workspaceId: string, id: string, everyMs: number): Promise<void> {
    await this.db.run(workspaceId, (tx) =>
      tx.consoleSession.updateMany({ where: { id, revokedAt: null, lastSeenAt: { lt: new Date(Date.now() - everyMs) } }, data: { lastSeenAt: new Date() } }),
    );
  }

  async revoke(workspaceId: string, id: string): Promise<void> {
    await this.db.run(workspaceId, (tx) => tx.consoleSession.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } }));
  }
}
