import { Webhook } from 'standardwebhooks';
import { postJson } from './http-delivery';
import type { AlertNotice, DeliveryOutcome, PagerChannel } from './pager-channel';

const EVENT_TYPES = { trigger: 'alert.triggered', acknowledge: 'alert.acknowledged', resolve: 'alert.resolved' } as const;

/**
 * A generic webhook signed with Standard Webhooks headers. webhook-id is the delivery id, stable
 * across retries, so the receiver can drop duplicates; the timestamp is fresh on each attempt.
 */
export class WebhookChannel implements PagerChannel {
  readonly name = 'webhook';
  private readonly signer: Webhook;

  /** `secret`: the Standard Webhooks secret (`whsec_` + base64). */
  constructor(
    private readonly url: string,
    secret: string,
    private readonly timeoutMs: number,
  ) {
    this.signer = new Webhook(secret);
  }

  deliver(notice: AlertNotice): Promise<DeliveryOutcome> {
    const now = new Date();
    const body = JSON.stringify(webhookBody(notice, now));
    const headers = {
      'webhook-id': notice.deliveryId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': this.signer.sign(notice.deliveryId, now, body),
    };
    return postJson(this.url, body, headers, this.timeoutMs);
  }
}

export function webhookBody({ action, alert, link }: AlertNotice, now: Date): Record<string, unknown> {
  return {
    type: EVENT_TYPES[action],
    timestamp: now.toISOString(),
    data: {
      alertId: alert.id,
      workspaceId: alert.workspaceId,
      rule: alert.rule,
      severity: alert.severity,
      summary: alert.summary,
      resource: { type: alert.resourceType, id: alert.resourceId },
      details: alert.details,
      occurrences: alert.occurrences,
      firstRaisedAt: alert.firstRaisedAt.toISOString(),
      acknowledgedBy: alert.acknowledgedBy,
      resolvedBy: alert.resolvedBy,
      url: link,
    },
  };
}
