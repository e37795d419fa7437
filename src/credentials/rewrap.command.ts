import { Pool, type PoolClient } from 'pg';
import type { AuditWriter } from '../audit/audit-writer';
import { DB_ROLES } from '../database/database-roles';
import { transact } from '../database/tenant-db';
import {
  brokerCredentialContext,
  signingSecretContext,
  sourceSecretContext,
  type EncryptionContext,
  type KeyPurpose,
  type KmsProvider,
} from '../kms/kms-provider';
import { CONNECTION_RESOURCE } from './connections.service';

export interface RewrapOptions {
  /**
   * A privileged login (the cli's DATABASE_URL); the command works as switchyard_owner through SET ROLE,
   * as migrations do. The runtime roles cannot: the api may not read wrapped keys and the worker may not
   * write them, and widening either for a rare operator task would weaken the locks they exist for.
   */
  privilegedUrl: string;
  /** The KMS key every wrapped data key should end under; for AWS the key ARN, as KMS reports it (rows already under it are skipped). */
  toKeyId: string;
  /** Versions re-wrapped per transaction: an interruption loses at most one batch of work, never consistency. */
  batchSize?: number;
}

export interface RewrapDeps {
  /** The KMS as the cli principal: ReEncrypt is granted to the cli only, and it never returns a plaintext key. */
  kms: KmsProvider;
  audit: Pick<AuditWriter, 'recordRaw'>;
  print?: (line: string) => void;
}

export interface RewrapResult {
  /** Secret versions moved to the target key by this run (with one credential.rewrap audit event each). */
  rewrapped: number;
  /** Versions still under another key or another KMS provider afterwards (0 after a complete run). */
  remaining: number;
  workspaces: number;
}

interface VersionRow {
  owner_id: string;
  version: number;
  kms_key_id: string;
  wrapped_key: Buffer;
}

/** A table of sealed secret versions: which rows it holds, the context each was sealed under, and what its audit event names. */
interface SealedTable {
  purpose: KeyPurpose;
  table: string;
  ownerColumn: string;
  resourceType: string;
  /** Rows this run's KMS may hold: credentials record their provider; source and endpoint secrets are the service's one KMS's. */
  rows: (kms: KmsProvider) => { where: string; values: unknown[] };
  context: (workspaceId: string, ownerId: string, version: number) => EncryptionContext;
}

const SEALED_TABLES: SealedTable[] = [
  {
    purpose: 'broker-credential',
    table: 'credential_versions',
    ownerColumn: 'connection_id',
    resourceType: CONNECTION_RESOURCE,
    rows: (kms) => ({ where: 'kms_provider = $4', values: [kms.name] }),
    context: (workspaceId, connectionId, version) => brokerCredentialContext({ workspaceId, connectionId, version }),
  },
  {
    purpose: 'webhook-secret',
    table: 'source_secrets',
    ownerColumn: 'source_id',
    resourceType: 'source',
    // Token-mode and crypto-shredded versions hold no sealed key.
    rows: () => ({ where: 'wrapped_key IS NOT NULL', values: [] }),
    context: (workspaceId, sourceId, version) => sourceSecretContext({ workspaceId, sourceId, version }),
  },
  {
    purpose: 'webhook-signing',
    table: 'webhook_endpoint_secrets',
    ownerColumn: 'endpoint_id',
    resourceType: 'webhook',
    rows: () => ({ where: 'true', values: [] }),
    context: (workspaceId, endpointId, version) => signingSecretContext({ workspaceId, endpointId, version }),
  },
];

const ACTOR = { type: 'system', id: 'cli keys rewrap' } as const;

/**
 * `cli keys rewrap --to <kms-key-id>`: re-wraps every stored data key (broker credentials, source signing keys,
 * order-webhook signing secrets) under another KMS key with ReEncrypt, without touching ciphertexts or ever
 * holding a plaintext key. Resumable: each batch commits its rows with their audit events, and a rerun skips
 * rows already under the target key.
 */
export async function runRewrap(options: RewrapOptions, deps: RewrapDeps): Promise<RewrapResult> {
  const batchSize = options.batchSize ?? 100;
  const print = deps.print ?? (() => undefined);
  // ReEncrypt may answer with the key's canonical id (an ARN for an alias or a bare id): both count as the target.
  const targets = new Set([options.toKeyId]);
  // The role is set at connect, so every transaction below runs as the owner.
  const pool = new Pool({ connectionString: options.privilegedUrl, max: 1, application_name: 'switchyard-cli-rewrap', options: `-c role=${DB_ROLES.owner}` });
  try {
    const { rows } = await pool.query<{ workspace_id: string }>('SELECT workspace_id::text AS workspace_id FROM sealed_secret_workspaces() ORDER BY 1');
    const result: RewrapResult = { rewrapped: 0, remaining: 0, workspaces: rows.length };
    for (const { workspace_id: workspaceId } of rows) {
      for (const table of SEALED_TABLES) {
        let moved = 0;
        for (;;) {
          const batch = await transact(pool, workspaceId, (c) => rewrapBatch(c, table, workspaceId, options.toKeyId, targets, batchSize, deps));
          if (batch === 0) break;
          moved += batch;
          print(`${workspaceId}: ${moved} ${table.purpose} version(s) re-wrapped`);
        }
        const left = await transact(pool, workspaceId, (c) => countNotUnder(c, table, workspaceId, targets));
        if (left > 0) print(`${workspaceId}: ${left} ${table.purpose} version(s) left under another key or KMS provider`);
        result.rewrapped += moved;
        result.remaining += left;
      }
    }
    print(`re-wrapped ${result.rewrapped} secret version(s) in ${result.workspaces} workspace(s); ${result.remaining} left`);
    return result;
  } finally {
    await pool.end();
  }
}

/** One batch in one transaction: lock, re-wrap, update and audit; returns how many rows it moved. */
async function rewrapBatch(
  client: PoolClient,
  table: SealedTable,
  workspaceId: string,
  toKeyId: string,
  targets: Set<string>,
  batchSize: number,
  deps: RewrapDeps,
): Promise<number> {
  const only = table.rows(deps.kms);
  // The owner also reads through the resolver's scan policy, so the workspace is named, not left to RLS.
  const { rows } = await client.query<VersionRow>(
    `SELECT ${table.ownerColumn}::text AS owner_id, version, kms_key_id, wrapped_key FROM ${table.table}
      WHERE workspace_id = $1 AND kms_key_id <> ALL($2::text[]) AND ${only.where}
      ORDER BY ${table.ownerColumn}, version LIMIT $3 FOR UPDATE`,
    [workspaceId, [...targets], batchSize, ...only.values],
  );
  for (const row of rows) {
    const rewrapped = await deps.kms.reEncrypt(row.wrapped_key, table.context(workspaceId, row.owner_id, row.version), toKeyId);
    targets.add(rewrapped.keyId);
    await client.query(`UPDATE ${table.table} SET wrapped_key = $1, kms_key_id = $2 WHERE ${table.ownerColumn} = $3 AND version = $4`, [
      rewrapped.wrapped,
      rewrapped.keyId,
      row.owner_id,
      row.version,
    ]);
    await deps.audit.recordRaw(client, {
      action: 'credential.rewrap',
      actor: ACTOR,
      resource: { type: table.resourceType, id: row.owner_id },
      metadata: { purpose: table.purpose, credentialVersion: row.version, fromKmsKeyId: row.kms_key_id, toKmsKeyId: rewrapped.keyId },
    });
  }
  return rows.length;
}

async function countNotUnder(client: PoolClient, table: SealedTable, workspaceId: string, targets: Set<string>): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table.table} WHERE workspace_id = $1 AND wrapped_key IS NOT NULL AND kms_key_id <> ALL($2::text[])`,
    [workspaceId, [...targets]],
  );
  return rows[0].n;
}
