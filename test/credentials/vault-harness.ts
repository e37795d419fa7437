import { Client } from 'pg';
import { openSealedSecret, type SealedSecret } from '../../src/kms/envelope';
import type { KmsProvider } from '../../src/kms/kms-provider';
import { brokerCredentialContext } from '../../src/kms/kms-provider';
import type { TestDatabase } from '../support/database';

/** Runs one statement as the superuser (RLS bypassed): tests look at what was really stored. */
export async function asAdmin<R extends object = Record<string, unknown>>(db: TestDatabase, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new Client({ connectionString: db.adminUrl });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** What the vault holds for a workspace: connections, versions (metadata) and credential audit actions. */
export async function vaultState(db: TestDatabase, workspaceId: string) {
  const connections = await asAdmin<{ id: string; status: string; credential_version: number }>(
    db,
    'SELECT id::text, status, credential_version FROM broker_connections WHERE workspace_id = $1 ORDER BY created_at',
    [workspaceId],
  );
  const versions = await asAdmin<{ connection_id: string; version: number; kms_key_id: string }>(
    db,
    'SELECT connection_id::text, version, kms_key_id FROM credential_versions WHERE workspace_id = $1 ORDER BY connection_id, version',
    [workspaceId],
  );
  const audit = await asAdmin<{ action: string; resource_id: string; metadata: Record<string, unknown> }>(
    db,
    `SELECT action, resource_id, metadata FROM audit_events WHERE workspace_id = $1 AND action LIKE 'credential.%' ORDER BY id`,
    [workspaceId],
  );
  return { connections, versions, audit };
}

/**
 * Opens a stored credential version the way the routing worker does: read as switchyard_worker,
 * decrypt with the worker principal. (Tests may; src/ outside routing may not: see test/architecture.)
 */
export async function openAsWorker(
  db: TestDatabase,
  kms: KmsProvider,
  workspaceId: string,
  connectionId: string,
  version: number,
): Promise<Record<string, string>> {
  const client = new Client({ connectionString: db.workerUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('app.workspace_id', $1, true)`, [workspaceId]);
    const { rows } = await client.query<{
      format_version: number;
      algorithm: string;
      kms_key_id: string;
      wrapped_key: Buffer;
      iv: Buffer;
      tag: Buffer;
      ciphertext: Buffer;
    }>('SELECT format_version, algorithm, kms_key_id, wrapped_key, iv, tag, ciphertext FROM credential_versions WHERE connection_id = $1 AND version = $2', [
      connectionId,
      version,
    ]);
    await client.query('COMMIT');
    if (!rows[0]) throw new Error(`no credential version ${version} for ${connectionId}`);
    const r = rows[0];
    const sealed: SealedSecret = {
      formatVersion: 1,
      algorithm: 'AES-256-GCM',
      kmsKeyId: r.kms_key_id,
      wrappedKey: r.wrapped_key,
      iv: r.iv,
      tag: r.tag,
      ciphertext: r.ciphertext,
    };
    expect(r.format_version).toBe(1);
    expect(r.algorithm).toBe('AES-256-GCM');
    const plaintext = await openSealedSecret(kms, sealed, brokerCredentialContext({ workspaceId, connectionId, version }));
    try {
      return JSON.parse(plaintext.toString('utf8')) as Record<string, string>;
    } finally {
      plaintext.fill(0);
    }
  } finally {
    await client.end();
  }
}
