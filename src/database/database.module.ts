import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import type { RuntimeRole } from './database-roles';
import { DB_ROLE, PG_ASIDE_POOL, PG_LIFECYCLE_POOL, PG_POOL } from './database.tokens';
import { PrismaService } from './prisma.service';
import { runtimeDatabaseUrl } from './runtime-database-url';
import { TenantDb } from './tenant-db';
import { UnnamedStatementsClient } from './unnamed-statements-client';

const RUNTIME_URL = Symbol('RUNTIME_URL');

@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(PG_ASIDE_POOL) private readonly asidePool: Pool,
    @Inject(PG_LIFECYCLE_POOL) private readonly lifecyclePool: Pool,
  ) {}

  /** The pools log in as the process's runtime role (switchyard_api or switchyard_worker). */
  static forRole(role: RuntimeRole): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: DB_ROLE, useValue: role },
        // Resolved once for both pools (it may read or create the role passwords in DATA_DIR).
        { provide: RUNTIME_URL, inject: [APP_CONFIG], useFactory: (config: AppConfig) => runtimeDatabaseUrl(config, role) },
        {
          provide: PG_POOL,
          inject: [APP_CONFIG, LOGGER, RUNTIME_URL],
          // Kept open: pg's 10 s idle close made the next burst of alerts pay new backends and re-prepared statements (330-440 ms).
          useFactory: (config: AppConfig, logger: Logger, url: string) =>
            createPool(config, logger, { url, name: `switchyard-${role}`, max: config.database.poolSize, min: config.database.poolSize }),
        },
        {
          provide: PG_ASIDE_POOL,
          inject: [APP_CONFIG, LOGGER, RUNTIME_URL],
          // One connection, opened only when needed (TenantDb.runRawAside).
          useFactory: (config: AppConfig, logger: Logger, url: string) => createPool(config, logger, { url, name: `switchyard-${role}-aside`, max: 1, min: 0 }),
        },
        {
          provide: PG_LIFECYCLE_POOL,
          inject: [APP_CONFIG, LOGGER, RUNTIME_URL],
          // A connection per order-sync lane, one for the revocation LISTEN and one for stream events; opened when used.
          useFactory: (config: AppConfig, logger: Logger, url: string) =>
            createPool(config, logger, { url, name: `switchyard-${role}-lifecycle`, max: config.orderSync.concurrency + 2, min: 0 }),
        },
        PrismaService,
        TenantDb,
      ],
      exports: [DB_ROLE, PG_POOL, PG_LIFECYCLE_POOL, PrismaService, TenantDb],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    // Several application contexts in one process (tests, the CLI) may share a pool's shutdown.
    await Promise.all([this.pool, this.asidePool, this.lifecyclePool].filter((pool) => !pool.ended).map((pool) => pool.end()));
  }
}

function createPool(config: AppConfig, logger: Logger, options: { url: string; name: string; max: number; min: number }): Pool {
  const pool = new Pool({
    connectionString: options.url,
    max: options.max,
    min: options.min,
    application_name: options.name,
    ...(config.database.preparedStatements ? {} : { Client: UnnamedStatementsClient }),
  });
  // An idle connection dropped by the server (restart, failover) must not crash the process.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection lost'));
  // Nor one checked out between two queries: pg emits 'error' on it with no listener (a database restart killed the worker).
  pool.on('connect', (client) => client.on('error', (err) => logger.warn({ err: err.message }, 'database connection lost while in use')));
  return pool;
}
