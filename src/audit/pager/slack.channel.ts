import { postJson } from './http-delivery';
import type { AlertNotice, DeliveryOutcome, PagerChannel } from './pager-channel';

/** Slack incoming webhook: one plain-text message per alert event. */
export class SlackChannel implements PagerChannel {
  readonly name = 'slack';

  constructor(
    private readonly webhookUrl: string,
    private readonly timeoutMs: number,
  ) {}

  deliver(notice: AlertNotice): Promise<DeliveryOutcome> {
    return postJson(this.webhookUrl, JSON.stringify({ text: slackText(notice) }), {}, this.timeoutMs);
  }
}

export function slackText({ action, alert, link }: AlertNotice): string {
  const context = `rule ${alert.rule} · ${alert.resourceType} ${alert.resourceId || '-'} · workspace ${alert.workspaceId} · alert ${alert.id} · <${link}|open in the console>`;
  switch (action) {
    case 'trigger':
      return `[${alert.severity.toUpperCase()}] ${alert.summary}\n${context}`;
    case 'acknowledge':
      return `Acknowledged by ${alert.acknowledgedBy ?? 'unknown'}: ${alert.summary}\n${context}`;
    case 'resolve':
      return `Resolved by ${alert.resolvedBy ?? 'unknown'}: ${alert.summary}\n${context}`;
  }
}
