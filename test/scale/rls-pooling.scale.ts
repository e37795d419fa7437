import { randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';
import { DB_ROLES } from '../../src/database/database-roles';
import { PrismaService } from '../../src/database/prisma.service';
import { TenantDb } from '../../src/database/tenant-db';
import { RunningPgbouncer, startPgbouncer } from './support/pgbouncer';
import { pgbouncerSuite } from './support/require-pgbouncer';
import { adminSql, createScaleDatabase, runtimeLogins, ScaleDatabase } from './support/scale-db';

const { bin, describe: suite } = pgbouncerSuite();

/**
 * RLS behind PgBouncer in transaction mode, on a pool of ONE server connection: every transaction of
 * every client runs on the same PostgreSQL backend, one after another. The workspace a unit of work
 * sets (set_config(..., true), transaction-local) must never be visible to the next transaction of
 * another client on that backend — through TenantDb's raw pg path and its Prisma path alike.
 */
suite('RLS under PgBouncer transaction pooling (one server connection)', () => {
  let db: ScaleDatabase;
  let bouncer: RunningPgbouncer;
  const pools: Pool[] = [];
  const prismas: PrismaService[] = [];
  const A = randomUUID();
  const B = randomUUID();
  let url: string;

  beforeAll(async () => {
    db = await createScaleDatabase('rls');
    await adminSql(db, `INSERT INTO workspaces (id, name) VALUES ($1, 'alpha'), ($2, 'bravo')`, [A, B]);
    await adminSql(db, `INSERT INTO members (id, workspace_id, email, role) VALUES ($1, $2, 'a@example.com', 'owner'), ($3, $4, 'b@example.com', 'owner')`, [
      randomUUID(),
      A,
      randomUUID(),
      B,
    ]);
    bouncer = await startPgbouncer(bin, {
      databases: [{ alias: db.name, host: db.host, port: db.port, dbname: db.name, poolSize: 1 }],
      users: runtimeLogins(db),
      defaultPoolSize: 1,
    });
    url = bouncer.url(db.name, DB_ROLES.api, db.passwords.api);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(prismas.map((p) => p.$disconnect()));
    await Promise.allSettled(pools.map((p) => p.end()));
    await bouncer?.stop();
    await db?.drop();
  }, 60_000);

  /** One "process": its own pg pool through PgBouncer, and TenantDb exactly as the api builds it. */
  function tenantDb(max = 4): TenantDb {
    const pool = new Pool({ connectionString: url, max, application_name: 'switchyard-api' });
    pools.push(pool);
    const prisma = new PrismaService(pool);
    prismas.push(prisma);
    const aside = new Pool({ connectionString: url, max: 1, application_name: 'switchyard-api-aside' });
    pools.push(aside);
    const lifecycle = new Pool({ connectionString: url, max: 2, application_name: 'switchyard-api-lifecycle' });
    pools.push(lifecycle);
    return new TenantDb(prisma, pool, aside, lifecycle);
  }

  async function client(): Promise<Client> {
    const c = new Client({ connectionString: url });
    await c.connect();
    return c;
  }

  it('runs every client on the same single server connection', async () => {
    const [x, y] = [await client(), await client()];
    try {
      const [px, py] = [await x.query('SELECT pg_backend_pid() AS pid'), await y.query('SELECT pg_backend_pid() AS pid')];
      expect(px.rows[0].pid).toBe(py.rows[0].pid);
    } finally {
      await Promise.all([x.end(), y.end()]);
    }
  });

  it('control: a session-level set_config DOES leak into another client’s next transaction (why TenantDb only sets it transaction-locally)', async () => {
    const [x, y] = [await client(), await client()];
    try {
      await x.query(`SELECT set_config('app.workspace_id', $1, false)`, [A]);
      const leaked = await y.query(`SELECT current_setting('app.workspace_id', true) AS ws, (SELECT count(*)::int FROM members) AS members`);
      expect(leaked.rows[0]).toEqual({ ws: A, members: 1 });
    } finally {
      await y.query(`SELECT set_config('app.workspace_id', '', false)`);
      await Promise.all([x.end(), y.end()]);
    }
  });

  it('never leaks a workspace between interleaved units of work of two clients (raw pg and Prisma paths)', async () => {
    const processes = [tenantDb(), tenantDb()];
    // A third client that never sets a workspace (its own little pool: probes run concurrently).
    const probe = new Pool({ connectionString: url, max: 4 });
    const seen: Array<{ ws: string; pid: number; at: string }> = [];
    const probes: Array<{ ws: string | null; workspaces: number; members: number }> = [];
    const rounds = 120;
    try {
      const unit = async (i: number) => {
        const ws = i % 2 === 0 ? A : B;
        const other = ws === A ? B : A;
        const tenant = processes[(i >> 1) % 2];
        if (i % 3 === 0) {
          // The Prisma path (management API).
          const r = await tenant.run(ws, async (tx) => {
            const [row] = await tx.$queryRaw<Array<{ ws: string; pid: number; at: string }>>`
              SELECT current_setting('app.workspace_id', true) AS ws, pg_backend_pid() AS pid, clock_timestamp()::text AS at`;
            const workspaces = await tx.workspace.findMany({ select: { id: true } });
            const members = await tx.member.findMany({ select: { workspaceId: true } });
            await tx.member.create({ data: { id: randomUUID(), workspaceId: ws, email: `p${i}@example.com`, role: 'viewer' } });
            return { row, workspaces, members };
          });
          expect(r.row.ws).toBe(ws);
          expect(r.workspaces).toEqual([{ id: ws }]);
          expect(r.members.every((m) => m.workspaceId === ws)).toBe(true);
          seen.push({ ws, pid: r.row.pid, at: r.row.at });
        } else {
          // The raw pg path (webhooks and routing).
          const r = await tenant.runRaw(ws, async (c) => {
            const row = (await c.query(`SELECT current_setting('app.workspace_id', true) AS ws, pg_backend_pid() AS pid, clock_timestamp()::text AS at`))
              .rows[0];
            const workspaces = (await c.query('SELECT id FROM workspaces')).rows;
            const members = (await c.query('SELECT workspace_id FROM members')).rows;
            await c.query(`INSERT INTO members (id, workspace_id, email, role) VALUES ($1, $2, $3, 'viewer')`, [randomUUID(), ws, `r${i}@example.com`]);
            // Writing into the other workspace is refused by the policy's WITH CHECK.
            await c.query('SAVEPOINT cross_write');
            const cross = await c
              .query(`INSERT INTO members (id, workspace_id, email, role) VALUES ($1, $2, 'x@example.com', 'viewer')`, [randomUUID(), other])
              .then(
                () => 'inserted',
                (e: Error) => e.message,
              );
            await c.query('ROLLBACK TO SAVEPOINT cross_write');
            return { row, workspaces, members, cross };
          });
          expect(r.row.ws).toBe(ws);
          expect(r.workspaces).toEqual([{ id: ws }]);
          expect(r.members.every((m: { workspace_id: string }) => m.workspace_id === ws)).toBe(true);
          expect(r.cross).toMatch(/row-level security/);
          seen.push({ ws, pid: r.row.pid, at: r.row.at });
        }
        // Between units: a bare statement from a third client that never set a workspace.
        const p = await probe.query(
          `SELECT nullif(current_setting('app.workspace_id', true), '') AS ws, (SELECT count(*)::int FROM workspaces) AS workspaces, (SELECT count(*)::int FROM members) AS members`,
        );
        probes.push(p.rows[0]);
      };
      // Eight units in flight at a time: they queue for the one server connection and interleave there
      // (an unbounded burst would only measure Prisma's 2 s wait to start a transaction).
      for (let i = 0; i < rounds; i += 8) await Promise.all(Array.from({ length: 8 }, (_, k) => unit(i + k)));
    } finally {
      await probe.end();
    }

    expect(probes).toHaveLength(rounds);
    expect(probes.filter((p) => p.ws !== null || p.workspaces !== 0 || p.members !== 0)).toEqual([]);
    // One backend served everything, and consecutive transactions on it really alternated workspaces.
    expect(new Set(seen.map((s) => s.pid)).size).toBe(1);
    const ordered = [...seen].sort((x, y) => x.at.localeCompare(y.at));
    const switches = ordered.filter((s, i) => i > 0 && s.ws !== ordered[i - 1].ws).length;
    expect(switches).toBeGreaterThan(rounds / 4);
    const counts = await adminSql<{ workspace_id: string; n: number }>(db, 'SELECT workspace_id, count(*)::int AS n FROM members GROUP BY 1 ORDER BY 1');
    expect(Object.fromEntries(counts.map((c) => [c.workspace_id, c.n]))).toEqual({ [A]: 1 + rounds / 2, [B]: 1 + rounds / 2 });
  });
});
