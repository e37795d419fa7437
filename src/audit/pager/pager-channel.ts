import type { SafeDetails } from '../audit-event';
import { AlertSeverity, alertOwner } from './pager-rules';

export type PagerChannelName = 'pagerduty' | 'slack' | 'webhook' | 'log';
export type AlertEventAction = 'trigger' | 'acknowledge' | 'resolve';

/** One delivery of one alert event to one channel. Ids and context only, never secrets. */
export interface AlertNotice {
  deliveryId: string;
  action: AlertEventAction;
  alert: {
    id: string;
    workspaceId: string;
    rule: string;
    severity: AlertSeverity;
    summary: string;
    resourceType: string;
    resourceId: string;
    details: SafeDetails;
    occurrences: number;
    firstRaisedAt: Date;
    acknowledgedBy: string | null;
    resolvedBy: string | null;
  };
  /** Where the console shows this alert (PUBLIC_BASE_URL): the platform's screen for its own alerts. */
  link: string;
}

export function alertLink(publicBaseUrl: string, alert: Pick<AlertNotice['alert'], 'id' | 'rule'>): string {
  return `${publicBaseUrl}${alertOwner(alert.rule) === 'platform' ? '/platform' : ''}/alerts/${alert.id}`;
}

/** `retry` on 429, 5xx and network failures; `failed` (no retry) on any other refusal. */
export type DeliveryOutcome = { kind: 'delivered' } | { kind: 'retry'; error: string; retryAfterMs?: number } | { kind: 'failed'; error: string };

export interface PagerChannel {
  readonly name: PagerChannelName;
  deliver(notice: AlertNotice): Promise<DeliveryOutcome>;
}

export const PAGER_CHANNELS = Symbol('PAGER_CHANNELS');
