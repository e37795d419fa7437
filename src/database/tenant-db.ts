import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { Prisma } from '../generated/prisma/client';
import { PG_POOL } from './database.tokens';
import { PrismaService } from './prisma.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type TenantTx = Prisma.TransactionClient;

/**
 * The only way to touch tenant tables: every unit of work is a transaction whose first statement
 * sets app.workspace_id transaction-locally (safe behind PgBouncer in transaction mode), so RLS
 * scopes everything inside it to one workspace.
 */
@Injectable()
export class TenantDb {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  /** Runs `work` through Prisma inside one workspace. */
  run<T>(workspaceId: string, work: (tx: TenantTx) => Promise<T>): Promise<T> {
    assertUuid(workspaceId);
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.workspace_id', ${workspaceId}, true)`;
      return work(tx);
    });
  }

  /**
   * Runs `work` on a raw pg client inside one workspace: for hot paths where Prisma's
   * per-query overhead matters. BEGIN and set_config go in one round trip.
   */
  async runRaw<T>(workspaceId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    assertUuid(workspaceId);
    const client = await this.pool.connect();
    try {
      await client.query(`BEGIN; SELECT set_config('app.workspace_id', '${workspaceId}', true)`);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}

/** Workspace ids are interpolated into runRaw's first statement; only a strict UUID may pass. */
function assertUuid(id: string): void {
  if (!UUID.test(id)) throw new Error('workspace id is not a UUID');
}
