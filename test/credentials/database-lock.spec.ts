import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/database';
import { asAdmin } from './vault-harness';

/**
 * Lock 2 of "only the routing worker can decrypt": logged in as switchyard_api, the sealed-secret
 * columns cannot be read back (column grants), while inserting and shredding a sealed secret works.
 */
let db: TestDatabase;
const SECRET_COLUMNS = ['wrapped_key', 'iv', 'tag', 'ciphertext'];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

/** One transaction in a workspace as the given login; returns the outcome or the Postgres error. */
async function inWorkspace<T>(url: string, workspaceId: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('app.workspace_id', $1, true)`, [workspaceId]);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

/** What the api does at onboarding, in SQL: a connection and a sealed version 1. */
async function apiOnboards(workspaceId: string): Promise<string> {
  const connectionId = randomUUID();
  await inWorkspace(db.apiUrl, workspaceId, async (c) => {
    await c.query('INSERT INTO workspaces (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [workspaceId, 'ws']);
    await c.query(
      `INSERT INTO broker_connections (id, workspace_id, broker, label, environment, credential_version, key_hint, permissions, inspected_at)
       VALUES ($1, $2, 'alpaca', 'main', 'paper', 1, '…ABCD', '{"canWithdraw": false, "canTransfer": false}', now())`,
      [connectionId, workspaceId],
    );
    await c.query(
      `INSERT INTO credential_versions (workspace_id, connection_id, version, format_version, algorithm, kms_provider, kms_key_id, wrapped_key, iv, tag, ciphertext)
       VALUES ($1, $2, 1, 1, 'AES-256-GCM', 'local', 'local-root-1', $3, $4, $5, $6)`,
      [workspaceId, connectionId, randomBytes(93), randomBytes(12), randomBytes(16), randomBytes(40)],
    );
  });
  return connectionId;
}

it('lets switchyard_api insert a sealed secret and read its metadata, but not one secret column', async () => {
  const ws = randomUUID();
  const connectionId = await apiOnboards(ws);

  const metadata = await inWorkspace(db.apiUrl, ws, (c) =>
    c.query('SELECT version, format_version, algorithm, kms_provider, kms_key_id, created_at FROM credential_versions WHERE connection_id = $1', [
      connectionId,
    ]),
  );
  expect(metadata.rows).toEqual([expect.objectContaining({ version: 1, kms_key_id: 'local-root-1' })]);

  for (const column of [...SECRET_COLUMNS, '*']) {
    await expect(inWorkspace(db.apiUrl, ws, (c) => c.query(`SELECT ${column} FROM credential_versions`))).rejects.toMatchObject({
      code: '42501',
      message: 'permission denied for table credential_versions',
    });
  }
  // Nor through a side door: RETURNING, or a WHERE on a secret column.
  await expect(inWorkspace(db.apiUrl, ws, (c) => c.query('DELETE FROM credential_versions RETURNING ciphertext'))).rejects.toMatchObject({ code: '42501' });
  await expect(inWorkspace(db.apiUrl, ws, (c) => c.query(`SELECT version FROM credential_versions WHERE ciphertext <> ''::bytea`))).rejects.toMatchObject({
    code: '42501',
  });
  // The api never rewrites a sealed secret in place.
  await expect(inWorkspace(db.apiUrl, ws, (c) => c.query(`UPDATE credential_versions SET ciphertext = '\\x00'`))).rejects.toMatchObject({ code: '42501' });
});

it('lets switchyard_worker read the sealed secret, and lets the api shred it', async () => {
  const ws = randomUUID();
  const connectionId = await apiOnboards(ws);
  const sealed = await inWorkspace(db.workerUrl, ws, (c) =>
    c.query(`SELECT ${SECRET_COLUMNS.join(', ')} FROM credential_versions WHERE connection_id = $1`, [connectionId]),
  );
  expect(sealed.rows).toHaveLength(1);
  expect(sealed.rows[0].iv).toHaveLength(12);

  const shredded = await inWorkspace(db.apiUrl, ws, (c) => c.query('DELETE FROM credential_versions WHERE connection_id = $1', [connectionId]));
  expect(shredded.rowCount).toBe(1);
  expect(await asAdmin(db, 'SELECT 1 FROM credential_versions WHERE connection_id = $1', [connectionId])).toEqual([]);
});

it('isolates workspaces: neither runtime role sees or writes another workspace’s vault rows', async () => {
  const a = randomUUID();
  const b = randomUUID();
  const connectionId = await apiOnboards(a);
  await apiOnboards(b);
  for (const url of [db.apiUrl, db.workerUrl]) {
    const seen = await inWorkspace(url, b, (c) => c.query('SELECT id FROM broker_connections WHERE id = $1', [connectionId]));
    expect(seen.rows).toEqual([]);
  }
  const deleted = await inWorkspace(db.apiUrl, b, (c) => c.query('DELETE FROM credential_versions WHERE connection_id = $1', [connectionId]));
  expect(deleted.rowCount).toBe(0);
  // A version cannot be attached to another workspace's connection, even by naming it.
  await expect(
    inWorkspace(db.apiUrl, b, (c) =>
      c.query(
        `INSERT INTO credential_versions (workspace_id, connection_id, version, format_version, algorithm, kms_provider, kms_key_id, wrapped_key, iv, tag, ciphertext)
         VALUES ($1, $2, 2, 1, 'AES-256-GCM', 'local', 'k', '\\x01', $3, $4, '\\x02')`,
        [b, connectionId, randomBytes(12), randomBytes(16)],
      ),
    ),
  ).rejects.toMatchObject({ code: '23503' });
});

it('has RLS enabled and forced on both tables, column grants as designed, and a database that refuses fund-moving keys', async () => {
  const tables = await asAdmin<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean; owner: string }>(
    db,
    `SELECT relname, relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner) AS owner FROM pg_class
      WHERE relname IN ('broker_connections', 'credential_versions') ORDER BY relname`,
  );
  expect(tables).toEqual([
    { relname: 'broker_connections', relrowsecurity: true, relforcerowsecurity: true, owner: 'switchyard_owner' },
    { relname: 'credential_versions', relrowsecurity: true, relforcerowsecurity: true, owner: 'switchyard_owner' },
  ]);
  const privileges = await asAdmin<{
    column: string;
    api_select: boolean;
    api_insert: boolean;
    api_update: boolean;
    worker_select: boolean;
    worker_update: boolean;
  }>(
    db,
    `SELECT a.attname AS column,
            has_column_privilege('switchyard_api', a.attrelid, a.attname, 'SELECT') AS api_select,
            has_column_privilege('switchyard_api', a.attrelid, a.attname, 'INSERT') AS api_insert,
            has_column_privilege('switchyard_api', a.attrelid, a.attname, 'UPDATE') AS api_update,
            has_column_privilege('switchyard_worker', a.attrelid, a.attname, 'SELECT') AS worker_select,
            has_column_privilege('switchyard_worker', a.attrelid, a.attname, 'UPDATE') AS worker_update
       FROM pg_attribute a WHERE a.attrelid = 'credential_versions'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
  );
  for (const p of privileges) {
    expect({ column: p.column, api_select: p.api_select }).toEqual({ column: p.column, api_select: !SECRET_COLUMNS.includes(p.column) });
    expect(p).toMatchObject({ api_insert: true, api_update: false, worker_select: true, worker_update: false });
  }
  expect(privileges.map((p) => p.column)).toEqual(expect.arrayContaining(SECRET_COLUMNS));

  const ws = randomUUID();
  await apiOnboards(ws);
  await expect(
    inWorkspace(db.apiUrl, ws, (c) =>
      c.query(
        `INSERT INTO broker_connections (id, workspace_id, broker, label, environment, credential_version, key_hint, permissions, inspected_at)
         VALUES ($1, $2, 'binance', 'x', 'live', 1, '…x', '{"canWithdraw": true, "canTransfer": false}', now())`,
        [randomUUID(), ws],
      ),
    ),
  ).rejects.toMatchObject({ code: '23514' });
});
