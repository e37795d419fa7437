import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { AuditSealer } from '../../src/audit/audit-sealer';
import { AuditWriter } from '../../src/audit/audit-writer';
import { TenantDb } from '../../src/database/tenant-db';
import { createTestDatabase, TestDatabase } from '../support/database';
import { AuditApp, connect, credentialUse, inWorkspace, startAuditApp } from './audit-harness';

/** audit_events and audit_checkpoints at the database: append-only for every role, isolated per workspace. */
describe('audit tables are append-only and tenant-isolated', () => {
  let db: TestDatabase;
  let app: AuditApp;
  let admin: Client;
  const ws = randomUUID();
  const other = randomUUID();

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startAuditApp(db);
    admin = await connect(db.adminUrl);
    const writer = app.module.get(AuditWriter);
    const tenantDb = app.module.get(TenantDb);
    for (const workspaceId of [ws, other]) {
      for (let i = 0; i < 3; i++) await tenantDb.runRaw(workspaceId, (c) => writer.recordRaw(c, credentialUse('c1', i)));
      await app.module.get(AuditSealer).sealWorkspace(workspaceId);
    }
    // One event left unsealed, to prove its content cannot be changed before sealing either.
    await tenantDb.runRaw(ws, (c) => writer.recordRaw(c, credentialUse('c1', 9)));
  });

  afterAll(async () => {
    await app.close();
    await admin.end();
    await db.drop();
  });

  const roles = () => [
    ['switchyard_api', db.apiUrl],
    ['switchyard_worker', db.workerUrl],
  ];

  it.each(['api', 'worker'] as const)('the %s role may not UPDATE, DELETE or TRUNCATE audit rows (no privilege)', async (role) => {
    const client = await connect(role === 'api' ? db.apiUrl : db.workerUrl);
    try {
      for (const sql of [
        `UPDATE audit_events SET reason = 'tampered'`,
        `UPDATE audit_events SET seq = 99 WHERE seq IS NULL`,
        `DELETE FROM audit_events`,
        `TRUNCATE audit_events`,
        `UPDATE audit_checkpoints SET seq = 99`,
        `DELETE FROM audit_checkpoints`,
        `TRUNCATE audit_checkpoints`,
      ]) {
        await expect(inWorkspace(client, ws, () => client.query(sql))).rejects.toThrow(/permission denied/);
      }
    } finally {
      await client.end();
    }
  });

  it('the owner role is refused by the trigger: UPDATE (sealed or not), DELETE and TRUNCATE', async () => {
    const owner = await connect(db.ownerUrl);
    try {
      for (const sql of [
        `UPDATE audit_events SET reason = 'tampered' WHERE seq = 2`,
        `UPDATE audit_events SET hash = prev_hash WHERE seq = 2`,
        `UPDATE audit_events SET reason = 'tampered' WHERE seq IS NULL`,
        `UPDATE audit_events SET seq = 4, prev_hash = hash, hash = hash, reason = 'tampered' WHERE seq IS NULL`,
        `DELETE FROM audit_events WHERE seq = 2`,
        `DELETE FROM audit_events WHERE seq IS NULL`,
        `UPDATE audit_checkpoints SET seq = 99`,
        `DELETE FROM audit_checkpoints`,
      ]) {
        await expect(inWorkspace(owner, ws, () => owner.query(sql))).rejects.toThrow(/append-only/);
      }
      await expect(owner.query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
      await expect(owner.query('TRUNCATE audit_checkpoints')).rejects.toThrow(/append-only/);
    } finally {
      await owner.end();
    }
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM audit_events WHERE reason = 'tampered'`);
    expect(rows[0].n).toBe(0);
  });

  it('runtime roles cannot choose seq, hashes or time when inserting, nor reseal a sealed event', async () => {
    for (const [, url] of roles()) {
      const client = await connect(url);
      try {
        const insert = `INSERT INTO audit_events (workspace_id, actor_type, action, resource_type, seq, prev_hash, hash)
                        VALUES (app_current_workspace(), 'worker', 'credential.use', 'connection', 1, '\\x00', '\\x00')`;
        await expect(inWorkspace(client, ws, () => client.query(insert))).rejects.toThrow(/permission denied/);
        const backdate = `INSERT INTO audit_events (workspace_id, actor_type, action, resource_type, occurred_at)
                          VALUES (app_current_workspace(), 'worker', 'credential.use', 'connection', now() - interval '1 day')`;
        await expect(inWorkspace(client, ws, () => client.query(backdate))).rejects.toThrow(/permission denied/);
        const { rows } = await admin.query('SELECT id::text AS id, hash FROM audit_events WHERE workspace_id = $1 AND seq = 3', [ws]);
        const rewind = () => client.query('SELECT audit_seal(1, ARRAY[$1::bigint], ARRAY[$2::bytea], ARRAY[$2::bytea])', [rows[0].id, rows[0].hash]);
        await expect(inWorkspace(client, ws, rewind)).rejects.toThrow(/does not extend the chain head/);
        // Extending the head correctly, but with an already sealed event: refused too.
        const reseal = () => client.query('SELECT audit_seal(4, ARRAY[$1::bigint], ARRAY[$2::bytea], ARRAY[$2::bytea])', [rows[0].id, rows[0].hash]);
        await expect(inWorkspace(client, ws, reseal)).rejects.toThrow(/were not unsealed events/);
      } finally {
        await client.end();
      }
    }
  });

  it('RLS: a workspace sees and writes only its own events and checkpoints', async () => {
    for (const [, url] of roles()) {
      const client = await connect(url);
      try {
        const seen = await inWorkspace(client, ws, () =>
          client.query('SELECT DISTINCT workspace_id::text AS w FROM audit_events UNION SELECT DISTINCT workspace_id::text FROM audit_checkpoints'),
        );
        expect(seen.rows).toEqual([{ w: ws }]);
        const foreign = `INSERT INTO audit_events (workspace_id, actor_type, action, resource_type) VALUES ($1, 'worker', 'credential.use', 'connection')`;
        await expect(inWorkspace(client, ws, () => client.query(foreign, [other]))).rejects.toThrow(/row-level security/);
        const none = await client.query('SELECT count(*)::int AS n FROM audit_events');
        expect(none.rows[0].n).toBe(0);
      } finally {
        await client.end();
      }
    }
  });

  it('the catalog agrees: RLS enabled and forced on every audit and alert table; runtime roles hold no UPDATE/DELETE/TRUNCATE on the audit tables', async () => {
    const { rows } = await admin.query(
      `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
        WHERE relname IN ('audit_events', 'audit_checkpoints', 'alerts', 'alert_deliveries') ORDER BY relname`,
    );
    expect(rows).toHaveLength(4);
    for (const r of rows) expect(r).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
    const grants = await admin.query(
      `SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants
        WHERE table_name IN ('audit_events', 'audit_checkpoints') AND grantee IN ('switchyard_api', 'switchyard_worker')
          AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')`,
    );
    expect(grants.rows).toEqual([]);
  });
});
