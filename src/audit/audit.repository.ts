import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { PG_POOL } from '../database/database.tokens';
import type { PageRequest } from '../common/pagination';
import type { TenantTx } from '../database/tenant-db';
import type { AuditEventInput, SafeDetails } from './audit-event';
import type { ChainEvent } from './audit-chain';
import type { SignedCheckpoint } from './audit-checkpoint-signer';
import type { TenantSql } from '../database/tenant-db';
import { AuditListFilter, auditOrder } from './dto/audit.dto';

/** An event the sealer has not chained yet. */
export interface UnsealedEvent extends Omit<ChainEvent, 'seq' | 'prevHash'> {
  id: string;
}

/** A chained event as stored, hash included. */
export interface SealedEvent extends ChainEvent {
  hash: Buffer;
}

export interface ChainHead {
  seq: number;
  hash: Buffer;
}

const EVENT_COLUMNS = `workspace_id::text AS workspace_id, occurred_at, actor_type, actor_id, ip, action,
  resource_type, resource_id, reason, request_id, metadata`;

// The advisory lock audit_seal() also takes, so a sealer can skip a workspace another one is sealing.
const CHAIN_LOCK = `hashtext('switchyard.audit_seal'), hashtext(app_current_workspace()::text)`;

type EventRow = {
  workspace_id: string;
  occurred_at: Date;
  actor_type: string;
  actor_id: string | null;
  ip: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  reason: string | null;
  request_id: string | null;
  metadata: SafeDetails;
};

/**
 * Queries over audit_events and audit_checkpoints. Chain work runs on the raw pg client of a
 * TenantDb.runRaw transaction; the cross-workspace scans go through the resolver functions.
 */
@Injectable()
export class AuditRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** The one statement on the hot path; the workspace comes from the caller's transaction. */
  async insert(sql: TenantSql, e: AuditEventInput): Promise<void> {
    await sql.query(
      `INSERT INTO audit_events (workspace_id, actor_type, actor_id, ip, action, resource_type, resource_id, reason, request_id, metadata)
       VALUES (app_current_workspace(), $1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`,
      [
        e.actor.type,
        e.actor.id ?? null,
        e.ip ?? null,
        e.action,
        e.resource.type,
        e.resource.id ?? null,
        e.reason ?? null,
        e.requestId ?? null,
        JSON.stringify(e.metadata ?? {}),
      ],
      'audit.insert',
    );
  }

  /** Takes the workspace's chain lock for the transaction; with wait=false, false when another sealer holds it. */
  async lockChain(client: PoolClient, wait: boolean): Promise<boolean> {
    if (wait) {
      await client.query(`SELECT pg_advisory_xact_lock(${CHAIN_LOCK})`);
      return true;
    }
    const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_xact_lock(${CHAIN_LOCK}) AS locked`);
    return rows[0].locked;
  }

  async head(client: PoolClient): Promise<ChainHead | null> {
    const { rows } = await client.query<{ seq: string; hash: Buffer }>(
      `SELECT seq, hash FROM audit_events WHERE workspace_id = app_current_workspace() AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1`,
    );
    return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
  }

  async unsealed(client: PoolClient, limit: number): Promise<UnsealedEvent[]> {
    const { rows } = await client.query<EventRow & { id: string }>(
      `SELECT id::text AS id, ${EVENT_COLUMNS} FROM audit_events
        WHERE workspace_id = app_current_workspace() AND seq IS NULL ORDER BY audit_events.id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ id: r.id, ...toEvent(r) }));
  }

  async seal(client: PoolClient, firstSeq: number, ids: string[], prevHashes: Buffer[], hashes: Buffer[]): Promise<void> {
    await client.query('SELECT audit_seal($1, $2::bigint[], $3::bytea[], $4::bytea[])', [firstSeq, ids, prevHashes, hashes]);
  }

  /** Sealed events after `afterSeq`, in chain order. */
  async chainPage(client: PoolClient, afterSeq: number, limit: number): Promise<SealedEvent[]> {
    const { rows } = await client.query<EventRow & { seq: string; prev_hash: Buffer; hash: Buffer }>(
      `SELECT seq, prev_hash, hash, ${EVENT_COLUMNS} FROM audit_events
        WHERE workspace_id = app_current_workspace() AND seq > $1 ORDER BY seq LIMIT $2`,
      [afterSeq, limit],
    );
    return rows.map((r) => ({ ...toEvent(r), seq: Number(r.seq), prevHash: r.prev_hash, hash: r.hash }));
  }

  async checkpoints(client: PoolClient): Promise<SignedCheckpoint[]> {
    return this.selectCheckpoints(client, 'ORDER BY seq');
  }

  async lastCheckpoint(client: PoolClient): Promise<SignedCheckpoint | null> {
    return (await this.selectCheckpoints(client, 'ORDER BY seq DESC LIMIT 1'))[0] ?? null;
  }

  async insertCheckpoint(client: PoolClient, c: SignedCheckpoint): Promise<void> {
    await client.query(
      `INSERT INTO audit_checkpoints (workspace_id, seq, head_hash, key_id, signature, signed_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, seq) DO NOTHING`,
      [c.workspaceId, c.seq, c.headHash, c.keyId, c.signature, c.signedAt],
    );
  }

  async unsealedWorkspaces(): Promise<string[]> {
    const { rows } = await this.pool.query<{ workspace_id: string }>('SELECT workspace_id::text AS workspace_id FROM audit_unsealed_workspaces()');
    return rows.map((r) => r.workspace_id);
  }

  async chainWorkspaces(): Promise<string[]> {
    const { rows } = await this.pool.query<{ workspace_id: string }>('SELECT workspace_id::text AS workspace_id FROM audit_chain_workspaces() ORDER BY 1');
    return rows.map((r) => r.workspace_id);
  }

  list(tx: TenantTx, workspaceId: string, f: AuditListFilter, page: PageRequest<bigint>) {
    return tx.auditEvent.findMany({
      where: {
        workspaceId,
        ...auditOrder.after(page.after),
        action: f.action,
        resourceType: f.resourceType,
        resourceId: f.resourceId,
        actorType: f.actorType,
        actorId: f.actorId,
        ...((f.since || f.until) && { occurredAt: { gte: f.since ? new Date(f.since) : undefined, lt: f.until ? new Date(f.until) : undefined } }),
      },
      orderBy: auditOrder.orderBy,
      take: page.limit + 1,
    });
  }

  private async selectCheckpoints(client: PoolClient, tail: string): Promise<SignedCheckpoint[]> {
    const { rows } = await client.query<{ workspace_id: string; seq: string; head_hash: Buffer; key_id: string; signature: Buffer; signed_at: Date }>(
      `SELECT workspace_id::text AS workspace_id, seq, head_hash, key_id, signature, signed_at FROM audit_checkpoints
        WHERE workspace_id = app_current_workspace() ${tail}`,
    );
    return rows.map((r) => ({
      workspaceId: r.workspace_id,
      seq: Number(r.seq),
      headHash: r.head_hash,
      keyId: r.key_id,
      signature: r.signature,
      signedAt: r.signed_at,
    }));
  }
}

function toEvent(r: EventRow): Omit<ChainEvent, 'seq' | 'prevHash'> {
  return {
    workspaceId: r.workspace_id,
    occurredAt: r.occurred_at,
    actorType: r.actor_type,
    actorId: r.actor_id,
    ip: r.ip,
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    reason: r.reason,
    requestId: r.request_id,
    metadata: r.metadata,
  };
}
