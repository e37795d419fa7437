import { postJson } from './http-delivery';
import type { AlertNotice, DeliveryOutcome, PagerChannel } from './pager-channel';

/** PagerDuty Events API v2: one incident per Switchyard alert, keyed by the alert id. */
export class PagerDutyChannel implements PagerChannel {
  readonly name = 'pagerduty';

  constructor(
    private readonly url: string,
    private readonly routingKey: string,
    private readonly timeoutMs: number,
  ) {}

  deliver(notice: AlertNotice): Promise<DeliveryOutcome> {
    return postJson(this.url, JSON.stringify(pagerDutyEvent(this.routingKey, notice)), {}, this.timeoutMs);
  }
}

export function pagerDutyDedupKey(alertId: string): string {
  return `switchyard-alert-${alertId}`;
}

/** acknowledge/resolve carry only the dedup key; a trigger carries the summary, source and severity PagerDuty requires. */
export function pagerDutyEvent(routingKey: string, { action, alert, link }: AlertNotice): Record<string, unknown> {
  const event = { routing_key: routingKey, event_action: action, dedup_key: pagerDutyDedupKey(alert.id) };
  if (action !== 'trigger') return event;
  return {
    ...event,
    links: [{ href: link, text: 'Open in the Switchyard console' }],
    payload: {
      summary: alert.summary,
      source: `switchyard/workspace/${alert.workspaceId}`,
      severity: alert.severity,
      timestamp: alert.firstRaisedAt.toISOString(),
      component: alert.resourceType,
      group: alert.workspaceId,
      class: alert.rule,
      custom_details: {
        ...alert.details,
        alertId: alert.id,
        workspaceId: alert.workspaceId,
        rule: alert.rule,
        resourceType: alert.resourceType,
        resourceId: alert.resourceId,
      },
    },
  };
}
