import type { Logger } from 'pino';
import type { AppConfig } from '../../config/app-config';
import { LogChannel } from './log.channel';
import type { PagerChannel } from './pager-channel';
import { PagerDutyChannel } from './pagerduty.channel';
import { SlackChannel } from './slack.channel';
import { WebhookChannel } from './webhook.channel';

/** The channels PAGER_* configures; log-only when none is. Fails at boot on a half-configured webhook. */
export function createPagerChannels(config: Pick<AppConfig, 'pager'>, timeoutMs: number, logger: Logger): PagerChannel[] {
  const { pagerDutyRoutingKey, pagerDutyUrl, slackWebhookUrl, webhookUrl, webhookSecret } = config.pager;
  const channels: PagerChannel[] = [];
  if (pagerDutyRoutingKey) channels.push(new PagerDutyChannel(pagerDutyUrl, pagerDutyRoutingKey, timeoutMs));
  if (slackWebhookUrl) channels.push(new SlackChannel(slackWebhookUrl, timeoutMs));
  if (webhookUrl) {
    if (!webhookSecret) throw new Error('PAGER_WEBHOOK_URL is set but PAGER_WEBHOOK_SECRET is not: alerts to a webhook must be signed');
    channels.push(new WebhookChannel(webhookUrl, webhookSecret, timeoutMs));
  }
  if (channels.length === 0) channels.push(new LogChannel(logger));
  return channels;
}
