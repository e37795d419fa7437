import { randomUUID } from 'node:crypto';
import { AddressInfo, createServer, Socket } from 'node:net';
import { Pool } from 'pg';
import { TenantDb } from '../../src/database/tenant-db';
import type { PrismaService } from '../../src/database/prisma.service';
import { createTestDatabase, TestDatabase } from '../support/database';

/** TenantDb.runPipelined: the hot paths' unit of work with pipelined statements must keep runRaw's guarantees. */
describe('TenantDb.runPipelined', () => {
  let db: TestDatabase;
  let pool: Pool;
  let tenants: TenantDb;
  const a = randomUUID();
  const b = randomUUID();

  const names = async (id: string) => (await db.adminQuery<{ name: string }>('SELECT name FROM workspaces WHERE id = $1', [id])).map((r) => r.name);

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.adminQuery(`INSERT INTO workspaces (id, name) VALUES ($1, 'A'), ($2, 'B')`, [a, b]);
    // The api role: RLS applies, and it may update its workspace's name.
    pool = new Pool({ connectionString: db.apiUrl, max: 2 });
    tenants = new TenantDb({} as PrismaService, pool, pool, pool); // runRawAside and runRawLifecycle are not used here
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('scopes every statement to the workspace and commits statements it did not wait for', async () => {
    const seen = await tenants.runPipelined(a, async (client) => {
      const rows = client.query('SELECT id FROM workspaces');
      void client.query(`UPDATE workspaces SET name = 'A2' WHERE id = $1`, [a]);
      void client.query(`UPDATE workspaces SET name = 'B2' WHERE id = $1`, [b]);
      return (await rows).rows;
    });
    expect(seen).toEqual([{ id: a }]);
    expect(await names(a)).toEqual(['A2']);
    expect(await names(b)).toEqual(['B']);
  });

  it('commits nothing when a statement it did not wait for fails, and throws that failure', async () => {
    await expect(
      tenants.runPipelined(a, async (client) => {
        void client.query(`UPDATE workspaces SET name = 'A3' WHERE id = $1`, [a]);
        void client.query('SELECT no_such_column FROM workspaces');
        void client.query(`UPDATE workspaces SET name = 'A4' WHERE id = $1`, [a]);
        return 'done';
      }),
    ).rejects.toThrow(/no_such_column/);
    expect(await names(a)).toEqual(['A2']);
  });

  it('commits when the work rolled back to a savepoint past the failed statement', async () => {
    const outcome = await tenants.runPipelined(a, async (client) => {
      void client.query(`UPDATE workspaces SET name = 'A6' WHERE id = $1`, [a]);
      void client.query('SAVEPOINT before_bad');
      const bad = client.query('SELECT no_such_column FROM workspaces').then(
        () => 'ran',
        () => 'failed',
      );
      const seen = await bad;
      await client.query('ROLLBACK TO SAVEPOINT before_bad');
      return seen;
    });
    expect(outcome).toBe('failed');
    expect(await names(a)).toEqual(['A6']);
  });

  it('rolls back and rethrows when the work throws', async () => {
    await expect(
      tenants.runPipelined(a, async (client) => {
        await client.query(`UPDATE workspaces SET name = 'A5' WHERE id = $1`, [a]);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await names(a)).toEqual(['A6']);
  });

  it('hands connections back clean: pipelining off, workspace unset', async () => {
    for (let i = 0; i < 4; i++) await tenants.runPipelined(a, async (client) => (await client.query('SELECT 1')).rows);
    const client = await pool.connect();
    try {
      expect((client as unknown as { pipeline: boolean }).pipeline).toBe(false);
      expect((await client.query(`SELECT current_setting('app.workspace_id', true) AS ws`)).rows[0].ws ?? '').toBe('');
    } finally {
      client.release();
    }
  });

  it('really pipelines through pg: the next statement is on the wire before the slow one answers', async () => {
    // A pass-through that logs, in order, what each side wrote; a pg that stopped pipelining fails this.
    const wire: string[] = [];
    const proxy = createServer((client) => {
      const upstream = new Socket();
      const target = new URL(db.apiUrl);
      upstream.connect(Number(target.port || 5432), target.hostname);
      client.on('data', (chunk) => (wire.push(`client:${chunk.toString('latin1')}`), upstream.write(chunk)));
      upstream.on('data', (chunk) => (wire.push(`server:${chunk.toString('latin1')}`), client.write(chunk)));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      for (const s of [client, upstream]) s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const url = new URL(db.apiUrl);
    url.hostname = '127.0.0.1';
    url.port = String((proxy.address() as AddressInfo).port);
    const proxied = new Pool({ connectionString: url.toString(), max: 1 });
    try {
      await proxied.query('SELECT 1'); // the startup exchange, before the log that matters
      wire.length = 0;
      await new TenantDb({} as PrismaService, proxied, proxied, proxied).runPipelined(a, async (client) => {
        void client.query('SELECT pg_sleep(0.3)');
        return (await client.query(`SELECT 'after-the-sleep' AS marker`)).rows;
      });
      const sentMarker = wire.findIndex((w) => w.startsWith('client:') && w.includes('after-the-sleep'));
      const firstAnswer = wire.findIndex((w) => w.startsWith('server:'));
      expect(sentMarker).toBeGreaterThanOrEqual(0);
      expect(firstAnswer).toBeGreaterThan(sentMarker);
    } finally {
      await proxied.end();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('refuses a workspace id that is not a UUID (it is interpolated)', async () => {
    await expect(tenants.runPipelined(`${a}'; DROP TABLE workspaces; --`, async () => 1)).rejects.toThrow(/not a UUID/);
  });
});
