import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { Prisma } from '../generated/prisma/client';
import { PG_ASIDE_POOL, PG_LIFECYCLE_POOL, PG_POOL } from './database.tokens';
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
    @Inject(PG_ASIDE_POOL) private readonly asidePool: Pool,
    @Inject(PG_LIFECYCLE_POOL) private readonly lifecyclePool: Pool,
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
  runRaw<T>(workspaceId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return transact(this.pool, workspaceId, work);
  }

  /**
   * runRaw on a connection outside the shared pool, for a record that must commit while its caller holds
   * pooled connections, possibly all of them (a credential read refused inside claims): it never waits on them.
   */
  runRawAside<T>(workspaceId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return transact(this.asidePool, workspaceId, work);
  }

  /** runRaw on the order-lifecycle pool (order sync, order streams): never queued behind routing jobs holding PG_POOL. */
  runRawLifecycle<T>(workspaceId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return transact(this.lifecyclePool, workspaceId, work);
  }

  /**
   * runRaw with the statements pipelined, for the hot paths where round trips are the cost: each
   * statement is written without waiting for the previous answer (the server still runs them one
   * after another, in order, each seeing the effects of the ones before), BEGIN goes out with the first
   * statement, and COMMIT right after `work` resolves, also behind statements `work` issued without
   * awaiting them. A failed statement aborts the transaction (unless `work` rolls back to a savepoint
   * set before it); PostgreSQL then answers the COMMIT with ROLLBACK and this throws the first failure.
   * `work` must not branch on an answer it has not awaited.
   */
  async runPipelined<T>(workspaceId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    assertUuid(workspaceId);
    const client = (await this.pool.connect()) as PipelinedClient;
    const query = client.query as (...args: unknown[]) => unknown;
    const issued: Promise<unknown>[] = [];
    const send = (...args: unknown[]): unknown => {
      const answer = query.apply(client, args);
      if (answer instanceof Promise) {
        issued.push(answer);
        answer.catch(() => undefined);
      }
      return answer;
    };
    client.pipeline = true;
    client.query = send as PoolClient['query'];
    try {
      send(`BEGIN; SELECT set_config('app.workspace_id', '${workspaceId}', true)`);
      let result: T;
      try {
        result = await work(client);
      } catch (err) {
        await Promise.allSettled(issued);
        throw err;
      }
      const commit = send('COMMIT') as Promise<{ command: string }>;
      const answers = await Promise.allSettled(issued);
      // The COMMIT's answer is the truth: ROLLBACK when any statement failed (and no savepoint `work`
      // rolled back to recovered the transaction), then the first failure is the reason.
      if ((await commit).command === 'COMMIT') return result;
      const failed = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected');
      throw failed ? failed.reason : new Error('the transaction was rolled back');
    } catch (err) {
      await (query.call(client, 'ROLLBACK') as Promise<unknown>).catch(() => undefined);
      throw err;
    } finally {
      client.query = query as PoolClient['query'];
      client.pipeline = false;
      client.release();
    }
  }
}

/** One workspace's transaction on a client of `pool`: the one tenant-scope mechanism (TenantDb's runRaw, and the cli's own pools). */
export async function transact<T>(pool: Pool, workspaceId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  assertUuid(workspaceId);
  const client = await pool.connect();
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

/**
 * A statement sent without waiting for its answer (runPipelined awaits every statement
 * before it reports the commit, and throws the first failure); marked handled here so that a failure
 * is reported once, by the unit of work, not also as an unhandled rejection.
 */
export function sent<T>(statement: Promise<T>): Promise<T> {
  statement.catch(() => undefined);
  return statement;
}

/**
 * The statements of a tenant transaction, whichever way TenantDb opened it, for writes that join the caller's
 * transaction either way (audit events, alerts). Return only text, booleans and int4: the drivers decode others differently.
 */
export interface TenantSql {
  /** `name`: a hot-path statement raw pg prepares once per connection. */
  query<R extends object>(text: string, values: unknown[], name?: string): Promise<R[]>;
}

/** The statements of a TenantDb.run (Prisma) transaction. */
export function prismaSql(tx: TenantTx): TenantSql {
  return { query: <R extends object>(text: string, values: unknown[]) => tx.$queryRawUnsafe<R[]>(text, ...values) };
}

/** The statements of a TenantDb.runRaw / runPipelined (pg) transaction. */
export function pgSql(client: PoolClient): TenantSql {
  return { query: async <R extends object>(text: string, values: unknown[], name?: string) => (await client.query<R>({ name, text, values })).rows };
}

/** node-pg's pipeline switch (pg >= 8.20): queries are written at once instead of one answer at a time. */
type PipelinedClient = PoolClient & { pipeline: boolean };

/** Workspace ids are interpolated into runRaw's first statement; only a strict UUID may pass. */
function assertUuid(id: string): void {
  if (!UUID.test(id)) throw new Error('workspace id is not a UUID');
}
