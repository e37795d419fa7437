import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { SafeDetails } from '../audit-event';
import type { TenantSql } from '../../database/tenant-db';
import { assertSafeDetails } from '../safe-details';
import { AlertsRepository, OpenedAlert } from './alerts.repository';
import { AlertEventAction, PAGER_CHANNELS, PagerChannel, PagerChannelName } from './pager-channel';
import { AlertSeverity, PAGER_RULES, PagerRule } from './pager-rules';

const MAX_DETAIL_KEYS = 48;

/** What raises an alert. Deduplicated per workspace, rule, resource type and resource id. */
export interface AlertInput {
  workspaceId: string;
  rule: PagerRule;
  resourceType: string;
  resourceId?: string;
  /** Defaults to the rule's severity. */
  severity?: AlertSeverity;
  summary: string;
  /** Ids and context only: keys naming secrets are refused. */
  details?: SafeDetails;
}

/**
 * Opens alerts and queues their deliveries inside a caller's transaction; shared by the Pager and
 * by the AuditWriter (which pages for rule actions in the same transaction as the audit event).
 */
@Injectable()
export class AlertOpener {
  private readonly channelNames: PagerChannelName[];

  constructor(
    private readonly alerts: AlertsRepository,
    @Inject(PAGER_CHANNELS) channels: PagerChannel[],
  ) {
    this.channelNames = channels.map((c) => c.name);
  }

  /** The workspace is the transaction's (RLS); `workspaceId` only chose that transaction. */
  open(sql: TenantSql, input: Omit<AlertInput, 'workspaceId'>): Promise<OpenedAlert> {
    const details = input.details ?? {};
    assertSafeDetails(details, 'alert details', MAX_DETAIL_KEYS);
    return this.alerts.openOrRepeat(
      sql,
      {
        id: randomUUID(),
        rule: input.rule,
        resourceType: input.resourceType,
        resourceId: input.resourceId ?? '',
        severity: input.severity ?? PAGER_RULES[input.rule].severity,
        summary: input.summary.slice(0, 1024),
        details,
      },
      this.channelNames,
    );
  }

  followUp(sql: TenantSql, alertId: string, action: Exclude<AlertEventAction, 'trigger'>): Promise<void> {
    return this.alerts.enqueueFollowUp(sql, alertId, action, this.channelNames);
  }
}
