import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { Problem } from '../common/problem';
import { pgSql, prismaSql, TenantSql, TenantTx } from '../database/tenant-db';
import type { AuditEventInput, SafeDetails } from './audit-event';
import { AuditRepository } from './audit.repository';
import { AlertOpener } from './pager/alert-opener';
import { isPagerRule, PAGER_RULES, PagerRule } from './pager/pager-rules';
import { assertSafeDetails } from './safe-details';

// Leaves room in an alert's details for the audit context added next to the metadata.
const MAX_METADATA_KEYS = 32;

/**
 * The audit event could not be written, so the operation it records must not happen: the caller
 * lets it propagate and its transaction rolls back. Routing fails the order with `audit_unavailable`.
 * The database's reason is the `cause` (pino's err serializer appends its message when logged).
 */
export class AuditWriteError extends Problem {
  constructor(detail: string, cause: unknown) {
    super(503, 'audit_unavailable', 'Service unavailable', detail, {}, { 'retry-after': '5' });
    this.cause = cause;
  }
}

/**
 * The one way to write the audit trail. Both methods run inside the caller's transaction (the
 * workspace is the transaction's), so the event commits with the work or neither does.
 * Cost: one INSERT (paging rules add their alert); the hash chain is sealed later in batches by
 * the AuditSealer, which keeps the hot path free of a per-workspace lock (>= 1,000 credential
 * uses/s in one workspace).
 */
@Injectable()
export class AuditWriter {
  constructor(
    private readonly events: AuditRepository,
    private readonly alerts: AlertOpener,
  ) {}

  /** Inside a TenantDb.run (Prisma) transaction. Throws AuditWriteError. */
  record(tx: TenantTx, event: AuditEventInput): Promise<void> {
    return this.write(prismaSql(tx), event);
  }

  /** Inside a TenantDb.runRaw (pg) transaction. Throws AuditWriteError. */
  recordRaw(client: PoolClient, event: AuditEventInput): Promise<void> {
    return this.write(pgSql(client), event);
  }

  private async write(sql: TenantSql, event: AuditEventInput): Promise<void> {
    try {
      assertSafeDetails(event.metadata ?? {}, 'audit metadata', MAX_METADATA_KEYS);
    } catch (err) {
      throw new AuditWriteError(`The audit event was refused (${(err as Error).message}); the operation was not performed.`, err);
    }
    try {
      await this.events.insert(sql, event);
      // Rule actions page in the same transaction: no audited out-of-context read without its alert.
      if (isPagerRule(event.action)) await this.alerts.open(sql, alertFor(event.action, event));
    } catch (err) {
      throw new AuditWriteError('The audit trail could not be written; the operation was not performed.', err);
    }
  }
}

function alertFor(rule: PagerRule, event: AuditEventInput) {
  const details: SafeDetails = {
    ...event.metadata,
    auditAction: rule,
    actorType: event.actor.type,
    actorId: event.actor.id ?? null,
    ip: event.ip ?? null,
    requestId: event.requestId ?? null,
    reason: event.reason?.slice(0, 500) ?? null,
  };
  const resource = [event.resource.type, event.resource.id].filter(Boolean).join(' ');
  return {
    rule,
    resourceType: event.resource.type,
    resourceId: event.resource.id,
    summary: `${PAGER_RULES[rule].title}: ${resource}`,
    details,
  };
}
