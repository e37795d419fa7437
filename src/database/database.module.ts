import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import type { RuntimeRole } from './database-roles';
import { DB_ROLE, PG_POOL } from './database.tokens';
import { PrismaService } from './prisma.service';
import { runtimeDatabaseUrl } from './runtime-database-url';
import { TenantDb } from './tenant-db';

@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** The pool logs in as the process's runtime role (switchyard_api or switchyard_worker). */
  static forRole(role: RuntimeRole): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: DB_ROLE, useValue: role },
        {
          provide: PG_POOL,
          inject: [APP_CONFIG],
          useFactory: async (config: AppConfig) =>
            new Pool({
              connectionString: await runtimeDatabaseUrl(config, role),
              max: config.database.poolSize,
              application_name: `switchyard-${role}`,
            }),
        },
        PrismaService,
        TenantDb,
      ],
      exports: [DB_ROLE, PG_POOL, PrismaService, TenantDb],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
