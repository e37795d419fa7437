import { DynamicModule, INestApplicationContext, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { AuditSealer } from '../audit/audit-sealer';
import { PagerDispatcher } from '../audit/pager/pager-dispatcher';
import { LOGGER } from '../common/logger';
import { DatabaseModule } from '../database/database.module';
import { JobRunner } from '../queue/job-runner';
import { QueueModule } from '../queue/queue.module';
import { ApprovalSweep } from '../routing/approval-sweep';
import { QuoteWatch } from '../routing/quote-watch';
import { WindowFlattener } from '../routing/window-flattener';
import { FlattenRecovery } from '../routing/flatten-recovery';
import { OrderStreams } from '../routing/order-streams';
import { OrderSync } from '../routing/order-sync';
import { RoutingModule } from '../routing/routing.module';
import { NotificationDeliveryModule } from '../notifications/notification-delivery.module';
import { NotificationDispatcher } from '../notifications/notification-dispatcher';
import { WebhookDeliveryModule } from '../webhooks/webhook-delivery.module';
import { WebhookDispatcher } from '../webhooks/webhook-dispatcher';

/** The worker process: no HTTP; the only place a broker credential is ever decrypted. */
@Module({})
export class WorkerModule {
  static forConfig(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: WorkerModule,
      global: true,
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRole('worker'), QueueModule, RoutingModule, WebhookDeliveryModule, NotificationDeliveryModule],
      providers: [{ provide: LOGGER, useValue: logger }],
      exports: [LOGGER],
    };
  }
}

/**
 * Starts what a worker runs: the job workers, the order lifecycle poller (its reconciliation sweep first) and event streams,
 * the flatten recovery sweep, the approval sweep, the window-end flattener, the quote loss watch, the audit sealer, the pager's,
 * the order webhooks' and the notification mail's delivery loops (each safe on every worker).
 */
export async function startWorkerLoops(app: INestApplicationContext): Promise<void> {
  await app.get(JobRunner).start();
  app.get(OrderSync).start();
  await app.get(OrderStreams).start();
  app.get(FlattenRecovery).start();
  app.get(ApprovalSweep).start();
  app.get(WindowFlattener).start();
  app.get(QuoteWatch).start();
  app.get(AuditSealer).start();
  app.get(PagerDispatcher).start();
  app.get(WebhookDispatcher).start();
  app.get(NotificationDispatcher).start();
}
