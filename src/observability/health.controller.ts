import { Controller, Get, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/database.tokens';
import { QueueConnection } from '../queue/queue-connection';
import { Public } from '../common/auth/auth.decorators';

@ApiExcludeController()
@Controller()
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly queues: QueueConnection,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  liveness() {
    return { status: 'ok' };
  }

  /** Readiness: the database and the queue backend both answer. */
  @Get('readyz')
  @HealthCheck()
  readiness() {
    return this.health.check([
      async () => {
        await this.pool.query('SELECT 1');
        return { database: { status: 'up' } };
      },
      async () => {
        await this.queues.ping();
        return { queue: { status: 'up', backend: this.queues.backend } };
      },
    ]);
  }
}
