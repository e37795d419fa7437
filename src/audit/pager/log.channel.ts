import type { Logger } from 'pino';
import type { AlertNotice, DeliveryOutcome, PagerChannel } from './pager-channel';

const LEVELS = { critical: 'error', error: 'error', warning: 'warn', info: 'info' } as const;

/** The default channel when nothing else is configured: the alert goes to the process log. */
export class LogChannel implements PagerChannel {
  readonly name = 'log';

  constructor(private readonly logger: Logger) {}

  async deliver({ action, alert, link }: AlertNotice): Promise<DeliveryOutcome> {
    const level = action === 'trigger' ? LEVELS[alert.severity] : 'info';
    this.logger[level](
      {
        alert: {
          id: alert.id,
          action,
          workspaceId: alert.workspaceId,
          rule: alert.rule,
          severity: alert.severity,
          resourceType: alert.resourceType,
          resourceId: alert.resourceId,
          occurrences: alert.occurrences,
          details: alert.details,
          link,
        },
      },
      `alert ${action}: ${alert.summary}`,
    );
    return { kind: 'delivered' };
  }
}
