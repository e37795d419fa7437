import { randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/database';

/** Connected as the api role, one workspace can neither see nor touch another's rows. */
describe('RLS breakout attempts as switchyard_api', () => {
  let db: TestDatabase;
  let api: Client;
  const a = randomUUID();
  const b = randomUUID();
  const memberB = randomUUID();

  async function inWorkspace<T>(workspaceId: string, fn: () => Promise<T>): Promise<T> {
    await api.query('BEGIN');
    await api.query(`SELECT set_config('app.workspace_id', $1, true)`, [workspaceId]);
    try {
      return await fn();
    } finally {
      await api.query('ROLLBACK');
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const admin = new Client({ connectionString: db.adminUrl });
    await admin.connect();
    await admin.query(`INSERT INTO workspaces (id, name) VALUES ($1, 'A'), ($2, 'B')`, [a, b]);
    await admin.query(`INSERT INTO members (id, workspace_id, email, role) VALUES ($1, $2, 'b@example.com', 'owner'), ($3, $4, 'a@example.com', 'owner')`, [
      memberB,
      b,
      randomUUID(),
      a,
    ]);
    await admin.end();
    api = new Client({ connectionString: db.apiUrl });
    await api.connect();
  });
  afterAll(async () => {
    await api?.end();
    await db?.drop();
  });

  it('sees only its own workspace', async () => {
    await inWorkspace(a, async () => {
      expect((await api.query('SELECT id FROM workspaces')).rows).toEqual([{ id: a }]);
      expect((await api.query('SELECT email FROM members')).rows).toEqual([{ email: 'a@example.com' }]);
      expect((await api.query('SELECT 1 FROM members WHERE id = $1', [memberB])).rowCount).toBe(0);
    });
  });

  it("cannot update or delete B's rows (zero rows touched)", async () => {
    await inWorkspace(a, async () => {
      expect((await api.query(`UPDATE members SET role = 'viewer' WHERE id = $1`, [memberB])).rowCount).toBe(0);
      expect((await api.query(`UPDATE workspaces SET name = 'pwned' WHERE id = $1`, [b])).rowCount).toBe(0);
    });
    const check = new Client({ connectionString: db.adminUrl });
    await check.connect();
    expect((await check.query('SELECT role FROM members WHERE id = $1', [memberB])).rows[0].role).toBe('owner');
    await check.end();
  });

  it('cannot delete at all (no privilege), even its own rows', async () => {
    await inWorkspace(a, async () => {
      await expect(api.query('DELETE FROM members WHERE id = $1', [memberB])).rejects.toThrow(/permission denied/);
    });
  });

  it('cannot insert into B or move a row into B (WITH CHECK)', async () => {
    await inWorkspace(a, async () => {
      await expect(
        api.query(`INSERT INTO members (id, workspace_id, email, role) VALUES ($1, $2, 'x@example.com', 'owner')`, [randomUUID(), b]),
      ).rejects.toThrow(/row-level security/);
    });
    await inWorkspace(a, async () => {
      await expect(api.query(`UPDATE members SET workspace_id = $1 WHERE email = 'a@example.com'`, [b])).rejects.toThrow(/row-level security/);
    });
  });

  it('sees nothing with no workspace set', async () => {
    expect((await api.query('SELECT * FROM workspaces')).rowCount).toBe(0);
    expect((await api.query('SELECT * FROM members')).rowCount).toBe(0);
    await expect(api.query(`INSERT INTO members (id, workspace_id, email, role) VALUES ($1, $2, 'y@example.com', 'owner')`, [randomUUID(), a])).rejects.toThrow(
      /row-level security/,
    );
  });

  it('cannot switch off RLS or escalate', async () => {
    await expect(api.query('SET row_security = off; SELECT * FROM members')).rejects.toThrow(/row-level security|permission denied/);
    await expect(api.query('ALTER TABLE members DISABLE ROW LEVEL SECURITY')).rejects.toThrow(/must be owner/);
    await expect(api.query('SET ROLE switchyard_owner')).rejects.toThrow(/permission denied/);
  });

  it('a pooled connection reused after a transaction sees no workspace', async () => {
    const pool = new Pool({ connectionString: db.apiUrl, max: 1 });
    try {
      const first = await pool.connect();
      await first.query('BEGIN');
      await first.query(`SELECT set_config('app.workspace_id', $1, true)`, [a]);
      expect((await first.query('SELECT id FROM workspaces')).rowCount).toBe(1);
      await first.query('COMMIT');
      first.release();
      const second = await pool.connect();
      expect((await second.query(`SELECT current_setting('app.workspace_id', true) AS ws`)).rows[0].ws).toBe('');
      expect((await second.query('SELECT id FROM workspaces')).rowCount).toBe(0);
      second.release();
    } finally {
      await pool.end();
    }
  });
});
