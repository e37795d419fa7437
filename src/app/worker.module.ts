import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { LOGGER } from '../common/logger';
import { DatabaseModule } from '../database/database.module';
import { QueueModule } from '../queue/queue.module';
import { RoutingModule } from '../routing/routing.module';

/** The worker process: no HTTP; the only place a broker credential is ever decrypted. */
@Module({})
export class WorkerModule {
  static forConfig(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: WorkerModule,
      global: true,
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRole('worker'), QueueModule, RoutingModule],
      providers: [{ provide: LOGGER, useValue: logger }],
      exports: [LOGGER],
    };
  }
}
