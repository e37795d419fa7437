import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import { LOGGER } from '../common/logger';
import { TenantDb } from '../database/tenant-db';

export const SIGNATURE_FAILURE_THRESHOLD = 10;
const WINDOW_MS = 5 * 60_000;
const PRUNE_ABOVE = 10_000;

interface FailureWindow {
  startedAt: number;
  count: number;
}

/**
 * Counts refused deliveries per existing source. The threshold-th failure in a window records
 * `source.signature_failures` in the source's audit trail, which pages on-call (a pager rule);
 * that happens off the request path, at most once per source and window.
 */
@Injectable()
export class SignatureFailureMonitor {
  private readonly windows = new Map<string, FailureWindow>();

  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditWriter,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  record(workspaceId: string, sourceId: string, reason: string, ip: string, requestId: string, now = Date.now()): void {
    let window = this.windows.get(sourceId);
    if (!window || now - window.startedAt >= WINDOW_MS) {
      if (this.windows.size >= PRUNE_ABOVE) this.prune(now);
      window = { startedAt: now, count: 0 };
      this.windows.set(sourceId, window);
    }
    window.count += 1;
    if (window.count !== SIGNATURE_FAILURE_THRESHOLD) return;
    void this.alert(workspaceId, sourceId, reason, ip, requestId).catch((err: unknown) =>
      this.logger.error({ err, workspaceId, sourceId }, 'could not record repeated webhook signature failures'),
    );
  }

  private alert(workspaceId: string, sourceId: string, reason: string, ip: string, requestId: string): Promise<void> {
    return this.db.runRaw(workspaceId, (client) =>
      this.audit.recordRaw(client, {
        action: 'source.signature_failures',
        actor: { type: 'system', id: 'webhook-intake' },
        resource: { type: 'source', id: sourceId },
        ip,
        requestId,
        reason: `${SIGNATURE_FAILURE_THRESHOLD} refused webhook deliveries within ${WINDOW_MS / 60_000} minutes`,
        metadata: { failures: SIGNATURE_FAILURE_THRESHOLD, windowMinutes: WINDOW_MS / 60_000, lastFailure: reason },
      }),
    );
  }

  private prune(now: number): void {
    for (const [sourceId, window] of this.windows) {
      if (now - window.startedAt >= WINDOW_MS) this.windows.delete(sourceId);
    }
  }
}
