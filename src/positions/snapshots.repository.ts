import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { AccountSummary, HeldPosition } from '../brokers/broker-adapter';

export interface SnapshotRow {
  positions: HeldPosition[] | null;
  account: AccountSummary | null;
  fetchedAt: Date | null;
  error: string | null;
  requestId: string | null;
  requestedAt: Date | null;
  answeredRequestId: string | null;
}

export interface SnapshotState {
  connectionStatus: string;
  snapshot: SnapshotRow | undefined;
}

const SNAPSHOT_COLUMNS = `s.positions, s.account, s.fetched_at AS "fetchedAt", s.error, s.request_id AS "requestId", s.requested_at AS "requestedAt",
  s.answered_request_id AS "answeredRequestId"`;

/** The api's side of connection snapshots: reads, and requests the worker answers. */
@Injectable()
export class SnapshotsRepository {
  /** The connection's status and its snapshot row (if any); undefined when there is no such connection here. */
  async state(client: PoolClient, connectionId: string): Promise<SnapshotState | undefined> {
    const { rows } = await client.query<SnapshotRow & { connectionStatus: string; hasSnapshot: boolean }>(
      `SELECT c.status AS "connectionStatus", s.connection_id IS NOT NULL AS "hasSnapshot", ${SNAPSHOT_COLUMNS}
         FROM broker_connections c LEFT JOIN connection_snapshots s ON s.connection_id = c.id
        WHERE c.id = $1`,
      [connectionId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const { connectionStatus, hasSnapshot, ...snapshot } = row;
    return { connectionStatus, snapshot: hasSnapshot ? snapshot : undefined };
  }

  /** Records a new request (the worker answers only the latest); returns the database's time of it. */
  async request(client: PoolClient, workspaceId: string, connectionId: string, requestId: string): Promise<Date> {
    const { rows } = await client.query<{ requestedAt: Date }>(
      `INSERT INTO connection_snapshots (connection_id, workspace_id, request_id, requested_at) VALUES ($1, $2, $3, clock_timestamp())
       ON CONFLICT (connection_id) DO UPDATE SET request_id = EXCLUDED.request_id, requested_at = EXCLUDED.requested_at
       RETURNING requested_at AS "requestedAt"`,
      [connectionId, workspaceId, requestId],
    );
    return rows[0].requestedAt;
  }

  /** The snapshot once the worker answered this request, or stored one fetched after it was made; else undefined. */
  async answered(client: PoolClient, connectionId: string, requestId: string, requestedAt: Date): Promise<SnapshotRow | undefined> {
    const { rows } = await client.query<SnapshotRow>(
      `SELECT ${SNAPSHOT_COLUMNS} FROM connection_snapshots s
        WHERE s.connection_id = $1 AND (s.answered_request_id = $2 OR s.fetched_at >= $3)`,
      [connectionId, requestId, requestedAt],
    );
    return rows[0];
  }
}
