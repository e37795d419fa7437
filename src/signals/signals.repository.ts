import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { PageRequest, TimeKey } from '../common/pagination';
import { PG_POOL } from '../database/database.tokens';
import { TenantDb, TenantTx } from '../database/tenant-db';
import { SignalListFilter, signalOrder, SignalStatus } from './dto/signal.dto';
import type { SignalPayload } from './signal-payload';
import type { SourceAuthMode } from './sources.repository';

/** What authenticating a webhook needs, found before the workspace is known. */
export interface ResolvedSource {
  workspaceId: string;
  authMode: SourceAuthMode;
  allowedIps: string[];
  /** Versions that authenticate right now, newest first; tokenHash only in token mode. */
  secrets: { version: number; tokenHash: Buffer | null }[];
}

export interface NewSignal {
  id: string;
  workspaceId: string;
  sourceId: string;
  idempotencyKey: string;
  /** Body keys only: the key of the previous time bucket; a match younger than `dedupeWindowSeconds` is the same signal. */
  previousBucketKey?: string;
  dedupeWindowSeconds?: number;
  rawPayload: string;
  payload: SignalPayload;
  senderIp: string;
  requestId: string;
}

export interface PersistedSignal {
  id: string;
  status: SignalStatus;
  duplicate: boolean;
}

export interface SignalRecord {
  id: string;
  sourceId: string;
  seq: bigint;
  status: string;
  payload: unknown;
  error: string | null;
  receivedAt: Date;
  enqueuedAt: Date | null;
  routingStartedAt: Date | null;
  completedAt: Date | null;
}

const SIGNAL_FIELDS = {
  id: true,
  sourceId: true,
  seq: true,
  status: true,
  payload: true,
  error: true,
  receivedAt: true,
  enqueuedAt: true,
  routingStartedAt: true,
  completedAt: true,
} as const;

// The unique index (workspace_id, source_id, idempotency_key) decides duplicates, also under concurrency.
const INSERT_SIGNAL = `
  INSERT INTO signals (id, workspace_id, source_id, idempotency_key, raw_payload, payload, sender_ip, request_id)
  SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::jsonb, $7::text, $8::text
   WHERE NOT EXISTS (SELECT 1 FROM signals p
                      WHERE p.workspace_id = $2 AND p.source_id = $3 AND p.idempotency_key = $9::text
                        AND p.received_at > now() - make_interval(secs => $10::float8))
  ON CONFLICT (workspace_id, source_id, idempotency_key) DO NOTHING
  RETURNING id, status`;

/** Signals: raw pg on the webhook path (Prisma costs ~2x per insert), Prisma for the read API. */
@Injectable()
export class SignalsRepository {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly db: TenantDb,
  ) {}

  /** Through the SECURITY DEFINER resolver: the only cross-workspace read on the webhook path. */
  async resolveSource(sourceId: string): Promise<ResolvedSource | undefined> {
    const { rows } = await this.pool.query<{
      workspace_id: string;
      auth_mode: SourceAuthMode;
      allowed_ips: string[];
      secret_version: number;
      token_hash: Buffer | null;
    }>({
      name: 'signals.resolve_source',
      text: 'SELECT workspace_id, auth_mode, allowed_ips, secret_version, token_hash FROM hooks_resolve_source($1)',
      values: [sourceId],
    });
    if (rows.length === 0) return undefined;
    return {
      workspaceId: rows[0].workspace_id,
      authMode: rows[0].auth_mode,
      allowedIps: rows[0].allowed_ips,
      secrets: rows.map((r) => ({ version: r.secret_version, tokenHash: r.token_hash })),
    };
  }

  /**
   * One transaction: insert, or find the signal that already holds this idempotency key. BEGIN, the
   * insert and COMMIT go out together (pipelined): a new signal costs the webhook one round trip to
   * the database and one commit. A duplicate is looked up after that, in a transaction of its own.
   */
  async persist(signal: NewSignal): Promise<PersistedSignal> {
    const { inserted } = await this.db.runPipelined(signal.workspaceId, async (client) => ({
      inserted: client.query<{ id: string; status: SignalStatus }>({
        name: 'signals.insert',
        text: INSERT_SIGNAL,
        values: [
          signal.id,
          signal.workspaceId,
          signal.sourceId,
          signal.idempotencyKey,
          signal.rawPayload,
          JSON.stringify(signal.payload),
          signal.senderIp,
          signal.requestId,
          signal.previousBucketKey ?? null,
          signal.dedupeWindowSeconds ?? 0,
        ],
      }),
    }));
    const { rows } = await inserted;
    if (rows.length === 1) return { ...rows[0], duplicate: false };
    return this.db.runRaw(signal.workspaceId, async (client) => {
      // A new statement sees the row a concurrent delivery committed while the insert waited on it.
      const existing = await client.query<{ id: string; status: SignalStatus }>(
        'SELECT id, status FROM signals WHERE workspace_id = $1 AND source_id = $2 AND idempotency_key = ANY($3::text[]) ORDER BY received_at LIMIT 1',
        [signal.workspaceId, signal.sourceId, [signal.idempotencyKey, signal.previousBucketKey].filter(Boolean)],
      );
      if (existing.rows.length !== 1) throw new Error('signal insert found neither a new nor an existing row');
      return { ...existing.rows[0], duplicate: true };
    });
  }

  /** Marks signals of one workspace as handed to the queue; rows routing already picked up are left alone. */
  async markEnqueued(workspaceId: string, marks: readonly { id: string; at: Date }[]): Promise<void> {
    await this.db.runRaw(workspaceId, (client) =>
      client.query({
        name: 'signals.mark_enqueued',
        text: `UPDATE signals s SET status = 'queued', enqueued_at = m.at
           FROM unnest($1::uuid[], $2::timestamptz[]) AS m(id, at)
          WHERE s.id = m.id AND s.status = 'received'`,
        values: [marks.map((m) => m.id), marks.map((m) => m.at)],
      }),
    );
  }

  /** Signals of every workspace persisted over `olderThanMs` ago and not yet marked enqueued (ids only). */
  async awaitingEnqueue(olderThanMs: number, limit: number): Promise<{ id: string; workspaceId: string }[]> {
    const { rows } = await this.pool.query<{ id: string; workspace_id: string }>('SELECT id, workspace_id FROM signals_awaiting_enqueue($1, $2)', [
      olderThanMs,
      limit,
    ]);
    return rows.map((r) => ({ id: r.id, workspaceId: r.workspace_id }));
  }

  /** Every workspace id (each has an audit chain from its creation on; the resolver function lists them). */
  async workspaceIds(): Promise<string[]> {
    const { rows } = await this.pool.query<{ workspace_id: string }>('SELECT workspace_id FROM audit_chain_workspaces()');
    return rows.map((r) => r.workspace_id);
  }

  /** Signals of one workspace received over `olderThanMs` (and under a week) ago that routing has not finished. */
  unfinished(workspaceId: string, olderThanMs: number, limit: number): Promise<string[]> {
    return this.db.runRaw(workspaceId, async (client) => {
      const { rows } = await client.query<{ id: string }>(
        `SELECT id FROM signals WHERE status IN ('queued', 'routing')
            AND received_at < now() - make_interval(secs => $1::float8 / 1000) AND received_at > now() - interval '7 days'
          ORDER BY received_at LIMIT $2`,
        [olderThanMs, limit],
      );
      return rows.map((r) => r.id);
    });
  }

  async list(tx: TenantTx, filter: SignalListFilter, page: PageRequest<TimeKey>): Promise<SignalRecord[]> {
    // Orders have no Prisma relation to signals: the connection filter picks the page's ids in SQL (newest first, probing orders_signal).
    const ids = filter.connectionId
      ? (
          await tx.$queryRaw<{ id: string }[]>`
            SELECT s.id FROM signals s
             WHERE EXISTS (SELECT 1 FROM orders o WHERE o.signal_id = s.id AND o.connection_id = ${filter.connectionId}::uuid)
               AND (${filter.sourceId ?? null}::uuid IS NULL OR s.source_id = ${filter.sourceId ?? null}::uuid)
               AND (${filter.status ?? null}::text IS NULL OR s.status = ${filter.status ?? null}::text)
               AND (${page.after?.at ?? null}::timestamptz IS NULL OR (s.received_at, s.id) < (${page.after?.at ?? null}::timestamptz, ${page.after?.id ?? null}::uuid))
             ORDER BY s.received_at DESC, s.id DESC
             LIMIT ${page.limit + 1}`
        ).map((r) => r.id)
      : undefined;
    return tx.signal.findMany({
      where: ids ? { id: { in: ids } } : { sourceId: filter.sourceId, status: filter.status, ...signalOrder.after(page.after) },
      select: SIGNAL_FIELDS,
      orderBy: signalOrder.orderBy,
      take: page.limit + 1,
    });
  }

  async find(tx: TenantTx, id: string): Promise<SignalRecord | null> {
    return tx.signal.findUnique({ where: { id }, select: SIGNAL_FIELDS });
  }
}
