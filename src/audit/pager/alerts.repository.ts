import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { PG_POOL } from '../../database/database.tokens';
import type { PageRequest, TimeKey } from '../../common/pagination';
import type { TenantTx } from '../../database/tenant-db';
import type { SafeDetails } from '../audit-event';
import type { TenantSql } from '../../database/tenant-db';
import { AlertListFilter, alertOrder, PlatformAlertFilter } from '../dto/audit.dto';
import type { AlertEventAction, AlertNotice, PagerChannelName } from './pager-channel';
import { AlertOwner, AlertSeverity, rulesOwnedBy } from './pager-rules';

export type AlertStatus = 'open' | 'acknowledged' | 'resolved';

/** An alert as the platform lists it: the alert's own columns, no deliveries. */
export interface PlatformAlertRow {
  id: string;
  workspaceId: string;
  rule: string;
  resourceType: string;
  resourceId: string;
  severity: string;
  summary: string;
  details: SafeDetails;
  status: string;
  occurrences: number;
  firstRaisedAt: Date;
  lastRaisedAt: Date;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  resolvedAt: Date | null;
  resolvedBy: string | null;
}

export interface NewAlert {
  id: string;
  rule: string;
  resourceType: string;
  resourceId: string;
  severity: AlertSeverity;
  summary: string;
  details: SafeDetails;
}

export interface OpenedAlert {
  id: string;
  status: AlertStatus;
  occurrences: number;
  /** false when the raise was folded into an unresolved alert for the same rule and resource. */
  opened: boolean;
}

/** A delivery this dispatcher holds until `attempts` changes or the lease runs out. */
export interface ClaimedDelivery extends Omit<AlertNotice, 'link'> {
  channel: PagerChannelName;
  attempts: number;
}

export type DeliveryResult = { status: 'delivered' } | { status: 'pending'; retryInMs: number; error: string } | { status: 'failed'; error: string };

type ClaimRow = {
  id: string;
  channel: PagerChannelName;
  event_action: AlertEventAction;
  attempts: number;
  alert_id: string;
  workspace_id: string;
  rule: string;
  severity: AlertSeverity;
  summary: string;
  resource_type: string;
  resource_id: string;
  details: SafeDetails;
  occurrences: number;
  first_raised_at: Date;
  acknowledged_by: string | null;
  resolved_by: string | null;
};

/** Queries over alerts and alert_deliveries. */
@Injectable()
export class AlertsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /**
   * Opens an alert with a trigger delivery per channel, or, when an unresolved alert for the same
   * rule and resource exists, only counts the occurrence. One statement, race-free on the unique index.
   */
  async openOrRepeat(sql: TenantSql, a: NewAlert, channels: PagerChannelName[]): Promise<OpenedAlert> {
    const rows = await sql.query<OpenedAlert>(
      `WITH alert AS (
         INSERT INTO alerts (id, workspace_id, rule, resource_type, resource_id, severity, summary, details)
         VALUES ($1::uuid, app_current_workspace(), $2, $3, $4, $5, $6, $7::jsonb)
         ON CONFLICT (workspace_id, rule, resource_type, resource_id) WHERE status <> 'resolved'
         DO UPDATE SET occurrences = alerts.occurrences + 1, last_raised_at = now()
         RETURNING id, status, occurrences
       ), queued AS (
         INSERT INTO alert_deliveries (id, workspace_id, alert_id, channel, event_action)
         SELECT gen_random_uuid(), app_current_workspace(), alert.id, c.channel, 'trigger'
           FROM alert, unnest($8::text[]) AS c(channel)
          WHERE alert.occurrences = 1
       )
       SELECT id::text AS id, status, occurrences, occurrences = 1 AS opened FROM alert`,
      [a.id, a.rule, a.resourceType, a.resourceId, a.severity, a.summary, JSON.stringify(a.details), channels],
    );
    return rows[0];
  }

  /** Queues an acknowledge/resolve for each channel that was sent the alert's trigger. */
  async enqueueFollowUp(sql: TenantSql, alertId: string, action: AlertEventAction, channels: PagerChannelName[]): Promise<void> {
    await sql.query(
      `INSERT INTO alert_deliveries (id, workspace_id, alert_id, channel, event_action)
       SELECT gen_random_uuid(), app_current_workspace(), $1::uuid, t.channel, $2
         FROM (SELECT DISTINCT channel FROM alert_deliveries
                WHERE alert_id = $1::uuid AND event_action = 'trigger' AND channel = ANY($3::text[])) t`,
      [alertId, action, channels],
    );
  }

  /** Moves an alert from one of `from` to `to`; false when it is not in one of those states (or not visible). */
  async transition(tx: TenantTx, id: string, from: AlertStatus[], to: AlertStatus, actor: string): Promise<boolean> {
    const now = new Date();
    const stamp = to === 'acknowledged' ? { acknowledgedAt: now, acknowledgedBy: actor } : { resolvedAt: now, resolvedBy: actor };
    const { count } = await tx.alert.updateMany({ where: { id, status: { in: from } }, data: { status: to, ...stamp } });
    return count === 1;
  }

  find(tx: TenantTx, id: string) {
    return tx.alert.findUnique({ where: { id }, include: { deliveries: { orderBy: { ordinal: 'asc' } } } });
  }

  list(tx: TenantTx, workspaceId: string, f: AlertListFilter, page: PageRequest<TimeKey>) {
    return tx.alert.findMany({
      where: { workspaceId, status: f.status, ...ownedBy(f.owner), ...alertOrder.after(page.after) },
      orderBy: alertOrder.orderBy,
      take: page.limit + 1,
      include: { deliveries: { orderBy: { ordinal: 'asc' } } },
    });
  }

  /** A page of alerts across workspaces for the platform on-call (resolver function: alert columns only). */
  async platformList(f: PlatformAlertFilter, page: PageRequest<TimeKey>): Promise<PlatformAlertRow[]> {
    const { rows } = await this.pool.query<PlatformAlertRow>(
      `SELECT id::text AS id, workspace_id::text AS "workspaceId", rule, resource_type AS "resourceType",
              resource_id AS "resourceId", severity, summary, details, status, occurrences,
              first_raised_at AS "firstRaisedAt", last_raised_at AS "lastRaisedAt", acknowledged_at AS "acknowledgedAt",
              acknowledged_by AS "acknowledgedBy", resolved_at AS "resolvedAt", resolved_by AS "resolvedBy"
         FROM platform_alerts($1, $2, $3, $4, $5, $6)`,
      [f.status ?? null, f.owner ?? null, rulesOwnedBy('workspace'), page.after?.at ?? null, page.after?.id ?? null, page.limit + 1],
    );
    return rows;
  }

  /** The workspace an alert belongs to, or null for an unknown id (resolver function). */
  async workspaceOf(alertId: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ workspace_id: string | null }>('SELECT alert_workspace($1::uuid)::text AS workspace_id', [alertId]);
    return rows[0]?.workspace_id ?? null;
  }

  /** Due deliveries of every workspace (resolver function: ids and workspaces only). */
  async due(limit: number): Promise<{ id: string; workspaceId: string }[]> {
    const { rows } = await this.pool.query<{ id: string; workspace_id: string }>(
      'SELECT id::text AS id, workspace_id::text AS workspace_id FROM alert_due_deliveries($1)',
      [limit],
    );
    return rows.map((r) => ({ id: r.id, workspaceId: r.workspace_id }));
  }

  /**
   * Claims due deliveries of the transaction's workspace for `leaseMs`. SKIP LOCKED lets several
   * dispatchers claim at once; an earlier pending delivery of the same alert and channel holds
   * later ones back, so an acknowledge never overtakes its trigger.
   */
  async claim(client: PoolClient, ids: string[], leaseMs: number): Promise<ClaimedDelivery[]> {
    const { rows } = await client.query<ClaimRow>(
      `WITH claimed AS (
         UPDATE alert_deliveries d
            SET locked_until = now() + $2 * interval '1 millisecond', attempts = d.attempts + 1
          WHERE d.id IN (
            SELECT c.id FROM alert_deliveries c
             WHERE c.id = ANY($1::uuid[]) AND c.status = 'pending' AND c.next_attempt_at <= now()
               AND (c.locked_until IS NULL OR c.locked_until <= now())
               AND NOT EXISTS (SELECT 1 FROM alert_deliveries p
                                WHERE p.alert_id = c.alert_id AND p.channel = c.channel
                                  AND p.status = 'pending' AND p.ordinal < c.ordinal)
               FOR UPDATE SKIP LOCKED)
         RETURNING d.id, d.alert_id, d.channel, d.event_action, d.attempts
       )
       SELECT claimed.id::text AS id, claimed.channel, claimed.event_action, claimed.attempts,
              a.id::text AS alert_id, a.workspace_id::text AS workspace_id, a.rule, a.severity, a.summary,
              a.resource_type, a.resource_id, a.details, a.occurrences, a.first_raised_at, a.acknowledged_by, a.resolved_by
         FROM claimed JOIN alerts a ON a.id = claimed.alert_id`,
      [ids, leaseMs],
    );
    return rows.map((r) => ({
      deliveryId: r.id,
      channel: r.channel,
      action: r.event_action,
      attempts: r.attempts,
      alert: {
        id: r.alert_id,
        workspaceId: r.workspace_id,
        rule: r.rule,
        severity: r.severity,
        summary: r.summary,
        resourceType: r.resource_type,
        resourceId: r.resource_id,
        details: r.details,
        occurrences: r.occurrences,
        firstRaisedAt: r.first_raised_at,
        acknowledgedBy: r.acknowledged_by,
        resolvedBy: r.resolved_by,
      },
    }));
  }

  /** Records an attempt's result unless another dispatcher has claimed the delivery since (attempts moved on). */
  async finish(client: PoolClient, claim: ClaimedDelivery, result: DeliveryResult): Promise<void> {
    const retryInMs = result.status === 'pending' ? result.retryInMs : 0;
    const error = result.status === 'delivered' ? null : result.error.slice(0, 500);
    await client.query(
      `UPDATE alert_deliveries
          SET status = $3, locked_until = NULL, last_error = $4,
              next_attempt_at = now() + $5 * interval '1 millisecond',
              delivered_at = CASE WHEN $3 = 'delivered' THEN now() END
        WHERE id = $1::uuid AND attempts = $2 AND status = 'pending'`,
      [claim.deliveryId, claim.attempts, result.status, error, retryInMs],
    );
  }
}

/** Prisma `where` for an owner filter, as alertOwner decides: a rule not in the workspace's list is the platform's. */
function ownedBy(owner: AlertOwner | undefined): { rule?: { in: string[] } | { notIn: string[] } } {
  if (!owner) return {};
  return { rule: owner === 'workspace' ? { in: rulesOwnedBy('workspace') } : { notIn: rulesOwnedBy('workspace') } };
}
