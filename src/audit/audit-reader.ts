import { Injectable } from '@nestjs/common';
import { ListRequest, Page, toPage } from '../common/pagination';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../common/auth/auth-context';
import type { AuditEvent } from '../generated/prisma/client';
import type { SafeDetails } from './audit-event';
import { AuditSealer } from './audit-sealer';
import { AuditRepository } from './audit.repository';
import { AuditEventView, AuditListFilter, auditOrder } from './dto/audit.dto';

/** GET /v1/audit: the workspace's chained events, newest first in chain order, keyset-paginated by seq. */
@Injectable()
export class AuditReader {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly events: AuditRepository,
    private readonly sealer: AuditSealer,
  ) {}

  async list(auth: AuthContext, { filter, page }: ListRequest<AuditListFilter, bigint>): Promise<Page<AuditEventView>> {
    // Sealing first (waiting out a background sealer) puts what was just recorded on the page; later events get higher seqs, so no cursor skips one.
    await this.sealer.sealWorkspace(auth.workspaceId, true);
    const rows = await this.tenantDb.run(auth.workspaceId, (tx) => this.events.list(tx, auth.workspaceId, filter, page));
    return toPage(rows, page, auditOrder, toView);
  }
}

function toView(r: AuditEvent): AuditEventView {
  return {
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
  };
}
