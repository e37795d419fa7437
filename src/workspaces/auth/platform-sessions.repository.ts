import { Injectable } from '@nestjs/common';
import { PLATFORM_WORKSPACE_ID } from '../../audit/audit-event';
import type { AuditEventInput } from '../../audit/audit-event';
import { AuditWriter } from '../../audit/audit-writer';
import { TenantDb } from '../../database/tenant-db';

export interface PlatformSessionRow {
  id: string;
  lastSeenAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** The platform on-call's console sessions; the table has no workspace, so the platform chain's transaction carries them and their audit. */
@Injectable()
export class PlatformSessionsRepository {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditWriter,
  ) {}

  async create(session: { id: string; tokenHash: Buffer; expiresAt: Date }, event: AuditEventInput): Promise<void> {
    await this.db.run(PLATFORM_WORKSPACE_ID, async (tx) => {
      await tx.platformSession.create({ data: { id: session.id, tokenHash: new Uint8Array(session.tokenHash), expiresAt: session.expiresAt } });
      await this.audit.record(tx, event);
    });
  }

  find(hash: Buffer): Promise<PlatformSessionRow | null> {
    return this.db.run(PLATFORM_WORKSPACE_ID, (tx) =>
      tx.platformSession.findUnique({ where: { tokenHash: new Uint8Array(hash) }, select: { id: true, lastSeenAt: true, expiresAt: true, revokedAt: true } }),
    );
  }

  /** Stamps use at most once per `everyMs`, as member sessions do. */
  async touch(id: string, everyMs: number): Promise<void> {
    await this.db.run(PLATFORM_WORKSPACE_ID, (tx) =>
      tx.platformSession.updateMany({ where: { id, revokedAt: null, lastSeenAt: { lt: new Date(Date.now() - everyMs) } }, data: { lastSeenAt: new Date() } }),
    );
  }

  async revoke(id: string, event: AuditEventInput): Promise<void> {
    await this.db.run(PLATFORM_WORKSPACE_ID, async (tx) => {
      const { count } = await tx.platformSession.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
      if (count === 1) await this.audit.record(tx, event);
    });
  }
}
