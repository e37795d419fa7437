import { Client } from 'pg';
import { DB_ROLES } from '../../src/database/database-roles';
import { createTestDatabase, TestDatabase } from '../support/database';

/** Every tenant table is isolated by forced RLS, and the runtime roles cannot get around it. */
describe('tenancy catalog', () => {
  let db: TestDatabase;
  let admin: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new Client({ connectionString: db.adminUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('has RLS enabled and forced, with USING and WITH CHECK, on every table with workspace_id', async () => {
    const { rows } = await admin.query<{ table: string; enabled: boolean; forced: boolean; policies: number; checks: number }>(`
      SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
             (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid AND p.polqual IS NOT NULL AND p.polname = 'tenant_isolation') AS policies,
             (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid AND p.polwithcheck IS NOT NULL AND p.polname = 'tenant_isolation') AS checks
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)`);
    expect(rows.length).toBeGreaterThanOrEqual(8);
    const bad = rows.filter((r) => !r.enabled || !r.forced || r.policies !== 1 || r.checks !== 1);
    expect(bad).toEqual([]);
  });

  it('isolates the workspaces table itself by its id', async () => {
    const { rows } = await admin.query(`SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'workspaces'`);
    expect(rows[0]).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
  });

  it.each([DB_ROLES.api, DB_ROLES.worker])('%s is not a superuser, cannot bypass RLS, owns nothing and cannot become an owner', async (role) => {
    const { rows } = await admin.query('SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1', [role]);
    expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false });
    const owned = await admin.query(
      `SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = $1
       UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE r.rolname = $1`,
      [role],
    );
    expect(owned.rows).toEqual([]);
    const memberships = await admin.query(
      `SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
      [role],
    );
    expect(memberships.rows).toEqual([]);
  });

  it('lets the owner own the schema objects, and the resolver cannot log in', async () => {
    const { rows } = await admin.query(`SELECT DISTINCT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'`);
    expect(rows.map((r) => r.rolname)).toEqual([DB_ROLES.owner]);
    const resolver = await admin.query('SELECT rolcanlogin, rolbypassrls FROM pg_roles WHERE rolname = $1', [DB_ROLES.resolver]);
    expect(resolver.rows[0]).toEqual({ rolcanlogin: false, rolbypassrls: false });
  });
});
