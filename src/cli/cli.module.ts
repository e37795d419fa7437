import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditModule } from '../audit/audit.module';
import type { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { LOGGER } from '../common/logger';
import { DatabaseModule } from '../database/database.module';
import { KmsModule } from '../kms/kms.module';

/** What operator commands need: the audit trail (as the worker role) and the KMS as the `cli` principal. */
@Module({})
export class CliModule {
  static forConfig(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: CliModule,
      global: true,
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRole('worker'), KmsModule.forPrincipal('cli'), AuditModule],
      providers: [{ provide: LOGGER, useValue: logger }],
      exports: [LOGGER],
    };
  }
}
