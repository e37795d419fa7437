import { Injectable } from '@nestjs/common';
import { ListRequest, Page, TimeKey, toPage } from '../../common/pagination';
import { Problem } from '../../common/problem';
import { TenantDb } from '../../database/tenant-db';
import type { AuthContext } from '../../workspaces/auth/auth-context';
import type { SafeDetails } from '../audit-event';
import { pgSql, prismaSql } from '../audit-sql';
import { AuditWriter } from '../audit-writer';
import { AlertInput, AlertOpener } from './alert-opener';
import { AlertListFilter, alertOrder } from '../dto/audit.dto';
import { AlertsRepository, AlertStatus, OpenedAlert } from './alerts.repository';

export interface AlertView {
  id: string;
  rule: string;
  severity: string;
  status: string;
  summary: string;
  resource: { type: string; id: string };
  details: SafeDetails;
  occurrences: number;
  firstRaisedAt: string;
  lastRaisedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  deliveries: { channel: string; action: string; status: string; attempts: number; lastError: string | null; deliveredAt: string | null }[];
}

type AlertRecord = NonNullable<Awaited<ReturnType<AlertsRepository['find']>>>;

/**
 * On-call paging: raise (deduplicated per rule and resource), list, acknowledge, resolve.
 * Deliveries are persisted with the alert and sent by the PagerDispatcher.
 */
@Injectable()
export class Pager {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly opener: AlertOpener,
    private readonly alerts: AlertsRepository,
    private readonly audit: AuditWriter,
  ) {}

  /** Opens an alert (or counts a repeat of the unresolved one) in its own transaction. */
  raise(input: AlertInput): Promise<OpenedAlert> {
    const { workspaceId, ...alert } = input;
    return this.tenantDb.runRaw(workspaceId, (client) => this.opener.open(pgSql(client), alert));
  }

  async list(auth: AuthContext, { filter, page }: ListRequest<AlertListFilter, TimeKey>): Promise<Page<AlertView>> {
    const rows = await this.tenantDb.run(auth.workspaceId, (tx) => this.alerts.list(tx, auth.workspaceId, filter, page));
    return toPage(rows, page, alertOrder, toView);
  }

  /** Idempotent; queues an acknowledge to every channel that got the trigger (PagerDuty acknowledges the incident). */
  acknowledge(auth: AuthContext, alertId: string): Promise<AlertView> {
    return this.transition(auth, alertId, ['open'], 'acknowledged');
  }

  /** Idempotent; a later raise for the same rule and resource opens a new alert. */
  resolve(auth: AuthContext, alertId: string): Promise<AlertView> {
    return this.transition(auth, alertId, ['open', 'acknowledged'], 'resolved');
  }

  private transition(auth: AuthContext, alertId: string, from: AlertStatus[], to: 'acknowledged' | 'resolved'): Promise<AlertView> {
    return this.tenantDb.run(auth.workspaceId, async (tx) => {
      const actor = `${auth.actor.type}:${auth.actor.id}`;
      if (await this.alerts.transition(tx, alertId, from, to, actor)) {
        await this.opener.followUp(prismaSql(tx), alertId, to === 'acknowledged' ? 'acknowledge' : 'resolve');
        await this.audit.record(tx, {
          action: to === 'acknowledged' ? 'alert.ack' : 'alert.resolve',
          actor: auth.actor,
          resource: { type: 'alert', id: alertId },
          ip: auth.ip,
          requestId: auth.requestId,
        });
      }
      const alert = await this.alerts.find(tx, alertId);
      if (!alert) throw Problem.notFound('Alert');
      if (to === 'acknowledged' && alert.status === 'resolved') throw Problem.conflict('alert_resolved', 'The alert is already resolved.');
      return toView(alert);
    });
  }
}

function toView(a: AlertRecord): AlertView {
  return {
    id: a.id,
    rule: a.rule,
    severity: a.severity,
    status: a.status,
    summary: a.summary,
    resource: { type: a.resourceType, id: a.resourceId },
    details: a.details as SafeDetails,
    occurrences: a.occurrences,
    firstRaisedAt: a.firstRaisedAt.toISOString(),
    lastRaisedAt: a.lastRaisedAt.toISOString(),
    acknowledgedAt: a.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: a.acknowledgedBy,
    resolvedAt: a.resolvedAt?.toISOString() ?? null,
    resolvedBy: a.resolvedBy,
    deliveries: a.deliveries.map((d) => ({
      channel: d.channel,
      action: d.eventAction,
      status: d.status,
      attempts: d.attempts,
      lastError: d.lastError,
      deliveredAt: d.deliveredAt?.toISOString() ?? null,
    })),
  };
}
