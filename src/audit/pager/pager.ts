import { Injectable } from '@nestjs/common';
import { ListRequest, Page, TimeKey, toPage } from '../../common/pagination';
import { Problem } from '../../common/problem';
import { pgSql, prismaSql, TenantDb } from '../../database/tenant-db';
import type { AuthContext, PlatformContext } from '../../common/auth/auth-context';
import type { SafeDetails } from '../audit-event';
import { AuditWriter } from '../audit-writer';
import { AlertInput, AlertOpener } from './alert-opener';
import { AlertListFilter, alertOrder, AlertView, PlatformAlertFilter, PlatformAlertView } from '../dto/audit.dto';
import { AlertsRepository, AlertStatus, OpenedAlert, PlatformAlertRow } from './alerts.repository';
import { alertOwner } from './pager-rules';

type AlertRecord = NonNullable<Awaited<ReturnType<AlertsRepository['find']>>>;
/** A workspace member, or the platform on-call (which may act on any workspace's alert). */
type AlertHandler = AuthContext | PlatformContext;

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

  /** One alert of the caller's workspace (another workspace's is indistinguishable from a missing one). */
  async get(auth: AuthContext, alertId: string): Promise<AlertView> {
    const alert = await this.tenantDb.run(auth.workspaceId, (tx) => this.alerts.find(tx, alertId));
    if (!alert) throw Problem.notFound('Alert');
    return toView(alert);
  }

  async platformList({ filter, page }: ListRequest<PlatformAlertFilter, TimeKey>): Promise<Page<PlatformAlertView>> {
    const rows = await this.alerts.platformList(filter, page);
    return toPage(rows, page, alertOrder, toPlatformView);
  }

  /** One alert of any workspace, as the platform lists it (the pager's link for a platform-owned alert opens it). */
  async platformGet(alertId: string): Promise<PlatformAlertView> {
    const workspaceId = await this.alerts.workspaceOf(alertId);
    const alert = workspaceId && (await this.tenantDb.run(workspaceId, (tx) => this.alerts.find(tx, alertId)));
    if (!alert) throw Problem.notFound('Alert');
    return toPlatformView(alert);
  }

  /** Idempotent; queues an acknowledge to every channel that got the trigger (PagerDuty acknowledges the incident). */
  acknowledge(by: AlertHandler, alertId: string): Promise<AlertView> {
    return this.transition(by, alertId, ['open'], 'acknowledged');
  }

  /** Idempotent; a later raise for the same rule and resource opens a new alert. */
  resolve(by: AlertHandler, alertId: string): Promise<AlertView> {
    return this.transition(by, alertId, ['open', 'acknowledged'], 'resolved');
  }

  /** A workspace may handle its own operational alerts only; a refusal is audited and never reaches the pager. */
  private async transition(by: AlertHandler, alertId: string, from: AlertStatus[], to: 'acknowledged' | 'resolved'): Promise<AlertView> {
    const workspaceId = 'workspaceId' in by ? by.workspaceId : await this.alerts.workspaceOf(alertId);
    if (!workspaceId) throw Problem.notFound('Alert');
    const verb = to === 'acknowledged' ? 'acknowledge' : 'resolve';
    const outcome = await this.tenantDb.run(workspaceId, async (tx) => {
      const event = { actor: by.actor, resource: { type: 'alert', id: alertId }, ip: by.ip, requestId: by.requestId };
      const current = await this.alerts.find(tx, alertId);
      if (!current) throw Problem.notFound('Alert');
      if ('workspaceId' in by && alertOwner(current.rule) === 'platform') {
        await this.audit.record(tx, { ...event, action: 'alert.refused', metadata: { rule: current.rule, attempted: verb } });
        return Problem.forbidden(`This is a security alert (${current.rule}); only the platform on-call can ${verb} it.`, 'alert_platform_owned');
      }
      if (await this.alerts.transition(tx, alertId, from, to, `${by.actor.type}:${by.actor.id}`)) {
        await this.opener.followUp(prismaSql(tx), alertId, verb);
        await this.audit.record(tx, { ...event, action: to === 'acknowledged' ? 'alert.ack' : 'alert.resolve' });
      }
      const alert = (await this.alerts.find(tx, alertId))!;
      if (to === 'acknowledged' && alert.status === 'resolved') throw Problem.conflict('alert_resolved', 'The alert is already resolved.');
      return toView(alert);
    });
    // Thrown after the commit, so the refusal's audit event stays.
    if (outcome instanceof Problem) throw outcome;
    return outcome;
  }
}

function toView(a: AlertRecord): AlertView {
  return {
    ...alertFacts(a),
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

function toPlatformView(a: AlertRecord | PlatformAlertRow): PlatformAlertView {
  return { ...alertFacts(a), workspaceId: a.workspaceId };
}

function alertFacts(a: AlertRecord | PlatformAlertRow): Omit<AlertView, 'deliveries'> {
  return {
    id: a.id,
    rule: a.rule,
    owner: alertOwner(a.rule),
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
  };
}
