import { Injectable } from '@nestjs/common';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../workspaces/auth/auth-context';
import type { SafeDetails } from './audit-event';
import { AuditSealer } from './audit-sealer';
import { AuditRepository } from './audit.repository';
import type { AuditListQuery } from './dto/audit.dto';

export interface AuditEventView {
  seq: number;
  occurredAt: string;
  actor: { type: string; id: string | null };
  ip: string | null;
  action: string;
  resource: { type: string; id: string | null };
  reason: string | null;
  requestId: string | null;
  metadata: SafeDetails;
  hash: string;
}

/** GET /v1/audit: the workspace's chained events in sequence order, keyset-paginated by seq. */
@Injectable()
export class AuditReader {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly events: AuditRepository,
    private readonly sealer: AuditSealer,
  ) {}

  async list(auth: AuthContext, query: AuditListQuery): Promise<{ events: AuditEventView[]; nextCursor: string | null }> {
    // Sealing first (waiting out a background sealer) puts what was just recorded on the page, and a seq cursor never skips an event.
    await this.sealer.sealWorkspace(auth.workspaceId, true);
    const rows = await this.tenantDb.run(auth.workspaceId, (tx) =>
      this.events.list(tx, auth.workspaceId, { afterSeq: query.after, limit: query.limit, action: query.action, resourceType: query.resourceType, resourceId: query.resourceId }),
    );
    const events = rows.map((r) => ({
      seq: Number(r.seq),
      occurredAt: r.occurredAt.toISOString(),
      actor: { type: r.actorType, id: r.actorId },
      ip: r.ip,
      action: r.action,
      resource: { type: r.resourceType, id: r.resourceId },
      reason: r.reason,
      requestId: r.requestId,
      metadata: r.metadata as SafeDetails,
      hash: Buffer.from(r.hash ?? []).toString('hex'),
    }));
    return { events, nextCursor: events.length === query.limit ? String(events[events.length - 1].seq) : null };
  }
}
