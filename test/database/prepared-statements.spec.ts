import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { PrismaService } from '../../src/database/prisma.service';
import { TenantDb } from '../../src/database/tenant-db';
import { UnnamedStatementsClient } from '../../src/database/unnamed-statements-client';
import { createTestDatabase, TestDatabase } from '../support/database';

const WORKSPACE_IDS = { name: 'test.workspace_ids', text: 'SELECT id FROM workspaces ORDER BY id' };

/** The hot path's named statements: parsed and planned once per connection, still scoped by RLS per transaction. */
describe('prepared hot-path statements', () => {
  let db: TestDatabase;
  const pools: Pool[] = [];
  const a = randomUUID();
  const b = randomUUID();

  /** One connection as the api role (RLS applies); `options` reach the server at connect. */
  function onePool(extra: Partial<ConstructorParameters<typeof Pool>[0]> = {}): { pool: Pool; tenants: TenantDb } {
    const pool = new Pool({ connectionString: db.apiUrl, max: 1, ...extra });
    pools.push(pool);
    return { pool, tenants: new TenantDb({} as PrismaService, pool, pool, pool) }; // runRawAside and runRawLifecycle are not used here
  }

  const preparedOnConnection = (tenants: TenantDb, workspaceId: string) =>
    tenants.runRaw(
      workspaceId,
      async (c) => (await c.query(`SELECT name, generic_plans::int, custom_plans::int FROM pg_prepared_statements ORDER BY name`)).rows,
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.adminQuery(`INSERT INTO workspaces (id, name) VALUES ($1, 'A'), ($2, 'B')`, [a, b]);
  });
  afterAll(async () => {
    await Promise.allSettled(pools.map((p) => p.end()));
    await db?.drop();
  });

  it('serves alternating workspaces from one cached generic plan on one connection, each transaction seeing only its own rows', async () => {
    // Force the generic plan from the first execution: the plan that is reused across workspaces.
    const { tenants } = onePool({ options: '-c plan_cache_mode=force_generic_plan' });
    for (let i = 0; i < 8; i++) {
      const ws = i % 2 === 0 ? a : b;
      const seen = await tenants.runPipelined(ws, async (c) => (await c.query(WORKSPACE_IDS)).rows);
      expect(seen).toEqual([{ id: ws }]);
    }
    expect(await preparedOnConnection(tenants, a)).toEqual([{ name: WORKSPACE_IDS.name, generic_plans: 8, custom_plans: 0 }]);
  });

  it('survives a rolled-back transaction: the statement stays prepared and keeps working', async () => {
    const { tenants } = onePool();
    await expect(
      tenants.runRaw(a, async (c) => {
        await c.query(WORKSPACE_IDS);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await tenants.runRaw(b, async (c) => (await c.query(WORKSPACE_IDS)).rows)).toEqual([{ id: b }]);
    expect((await preparedOnConnection(tenants, a)).map((r) => r.name)).toEqual([WORKSPACE_IDS.name]);
  });

  it('sends the same statements unnamed through UnnamedStatementsClient (DATABASE_PREPARED_STATEMENTS=false, for PgBouncer < 1.21)', async () => {
    const { tenants } = onePool({ Client: UnnamedStatementsClient });
    for (const ws of [a, b, a]) {
      expect(await tenants.runPipelined(ws, async (c) => (await c.query(WORKSPACE_IDS)).rows)).toEqual([{ id: ws }]);
    }
    expect(await preparedOnConnection(tenants, a)).toEqual([]);
  });
});
