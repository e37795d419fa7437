import { userInfo } from 'node:os';
import { Pool } from 'pg';
import type { AuditWriter } from '../audit/audit-writer';
import { DB_ROLES } from '../database/database-roles';
import { openSealedSecret, SealedSecret } from '../kms/envelope';
import { brokerCredentialContext, type KmsProvider } from '../kms/kms-provider';

export interface RevealOptions {
  privilegedUrl: string;
  connectionId: string;
  reason: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Break-glass: `cli credentials reveal --connection <id> --reason "<why>"`. The audit event
 * (`credential.break_glass`, which pages at critical severity) commits before the decrypt;
 * the credential is printed once to the terminal and never logged.
 */
export async function revealCredential(
  options: RevealOptions,
  deps: { kms: KmsProvider; audit: Pick<AuditWriter, 'recordRaw'>; print: (line: string) => void },
): Promise<number> {
  const reason = options.reason.trim();
  if (reason.length < 10) {
    deps.print('refused: --reason "<why>" is required (at least 10 characters); it is recorded in the audit trail and the page');
    return 2;
  }
  if (!UUID.test(options.connectionId)) {
    deps.print('refused: --connection must be a connection id');
    return 2;
  }
  const pool = new Pool({ connectionString: options.privilegedUrl, max: 1, application_name: 'switchyard-cli-break-glass' });
  const client = await pool.connect();
  try {
    // As the owner, like migrations: FORCE RLS still scopes every read to the connection's workspace.
    await client.query(`SET ROLE ${DB_ROLES.owner}`);
    const found = await client.query<{ ws: string | null }>('SELECT connection_workspace($1) AS ws', [options.connectionId]);
    const workspaceId = found.rows[0].ws;
    if (!workspaceId) {
      deps.print('refused: no such connection');
      return 1;
    }
    await client.query(`BEGIN; SELECT set_config('app.workspace_id', '${workspaceId}', true)`);
    const current = await client.query(
      `SELECT v.version, v.format_version AS "formatVersion", v.algorithm, v.kms_key_id AS "kmsKeyId", v.wrapped_key AS "wrappedKey", v.iv, v.tag, v.ciphertext
         FROM broker_connections c JOIN credential_versions v ON v.connection_id = c.id AND v.version = c.credential_version
        WHERE c.id = $1 AND c.status = 'active'`,
      [options.connectionId],
    );
    const row = current.rows[0];
    if (!row) {
      await client.query('ROLLBACK');
      deps.print('refused: the connection is revoked; its credentials were destroyed');
      return 1;
    }
    await deps.audit.recordRaw(client, {
      action: 'credential.break_glass',
      actor: { type: 'platform', id: `cli:${userInfo().username}` },
      resource: { type: 'connection', id: options.connectionId },
      reason,
      metadata: { credentialVersion: row.version },
    });
    await client.query('COMMIT');
    const { version, ...sealed } = row;
    const plaintext = await openSealedSecret(
      deps.kms,
      sealed as SealedSecret,
      brokerCredentialContext({ workspaceId, connectionId: options.connectionId, version }),
    );
    try {
      deps.print(plaintext.toString('utf8'));
    } finally {
      plaintext.fill(0);
    }
    return 0;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
    await pool.end();
  }
}
