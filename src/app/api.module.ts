import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/app-config';
import { AuditModule } from '../audit/audit.module';
import { ConfigModule } from '../config/config.module';
import { LOGGER } from '../common/logger';
import { LIMIT_STORE, LimitStore } from '../limits/limit-store';
import { LimitThrottlerStorage } from '../limits/limit-throttler-storage';
import { LimitsModule } from '../limits/limits.module';
import { ProblemFilter } from '../common/problem.filter';
import { CredentialsModule } from '../credentials/credentials.module';
import { DatabaseModule } from '../database/database.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { ObservabilityModule } from '../observability/observability.module';
import { PositionsModule } from '../positions/positions.module';
import { QueueModule } from '../queue/queue.module';
import { OrdersModule } from '../orders/orders.module';
import { RoutesModule } from '../routes/routes.module';
import { SignalsModule } from '../signals/signals.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { WorkspacesModule } from '../workspaces/workspaces.module';

/** The api process: HTTP only; it never holds a decryptable broker credential. */
@Module({})
export class ApiModule {
  static forConfig(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: ApiModule,
      global: true,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRole('api'),
        QueueModule,
        LimitsModule,
        ThrottlerModule.forRootAsync({
          inject: [LIMIT_STORE],
          useFactory: (store: LimitStore) => ({
            throttlers: [{ ttl: config.rateLimit.windowMs, limit: config.rateLimit.perMinute }],
            storage: new LimitThrottlerStorage(store),
          }),
        }),
        ObservabilityModule,
        WorkspacesModule,
        CredentialsModule,
        SignalsModule,
        AuditModule,
        RoutesModule,
        OrdersModule,
        PositionsModule,
        WebhooksModule,
        NotificationsModule,
      ],
      providers: [
        { provide: LOGGER, useValue: logger },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_GUARD, useClass: ThrottlerGuard },
      ],
      exports: [LOGGER],
    };
  }
}
