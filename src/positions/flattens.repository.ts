import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';

export interface FlattenRow {
  id: string;
  scope: 'connection' | 'workspace';
  reason: string;
  requestedByType: string;
  requestedBy: string | null;
  createdAt: Date;
}

export interface FlattenConnectionRow {
  connectionId: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  canceledOrders: number | null;
  error: string | null;
  attempts: number;
  updatedAt: Date;
}

export interface FlattenOrderView {
  connectionId: string;
  symbol: string;
  side: 'buy' | 'sell';
  quantity: string;
  clientOrderId: string;
  brokerOrderId: string | null;
  status: string;
  filledQuantity: string | null;
  averagePrice: string | null;
  reason: string | null;
  createdAt: Date;
}

/** The api's side of flattens: recording a request and reading its progress. */
@Injectable()
export class FlattensRepository {
  /** The workspace's connections with their status (all of them, or the one asked for). */
  async connections(client: PoolClient, connectionId?: string): Promise<{ id: string; status: string }[]> {
    const { rows } = await client.query<{ id: string; status: string }>(
      `SELECT id, status FROM broker_connections WHERE $1::uuid IS NULL OR id = $1 ORDER BY created_at, id`,
      [connectionId ?? null],
    );
    return rows;
  }

  async insert(client: PoolClient, workspaceId: string, flatten: Omit<FlattenRow, 'createdAt'>, connectionIds: string[]): Promise<void> {
    await client.query(
      `WITH f AS (INSERT INTO flattens (id, workspace_id, scope, reason, requested_by_type, requested_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)
       INSERT INTO flatten_connections (workspace_id, flatten_id, connection_id) SELECT $2, f.id, c FROM f, unnest($7::uuid[]) AS c`,
      [flatten.id, workspaceId, flatten.scope, flatten.reason, flatten.requestedByType, flatten.requestedBy, connectionIds],
    );
  }

  async find(client: PoolClient, id: string): Promise<{ flatten: FlattenRow; connections: FlattenConnectionRow[]; orders: FlattenOrderView[] } | undefined> {
    const flattens = await client.query<FlattenRow>(
      `SELECT id, scope, reason, requested_by_type AS "requestedByType", requested_by AS "requestedBy", created_at AS "createdAt" FROM flattens WHERE id = $1`,
      [id],
    );
    if (!flattens.rows[0]) return undefined;
    const connections = await client.query<FlattenConnectionRow>(
      `SELECT connection_id AS "connectionId", status, canceled_orders AS "canceledOrders", error, attempts, updated_at AS "updatedAt"
         FROM flatten_connections WHERE flatten_id = $1 ORDER BY connection_id`,
      [id],
    );
    const orders = await client.query<FlattenOrderView>(
      `SELECT connection_id AS "connectionId", symbol, side, quantity::text, client_order_id AS "clientOrderId", broker_order_id AS "brokerOrderId", status,
              filled_quantity::text AS "filledQuantity", average_price::text AS "averagePrice", reason, created_at AS "createdAt"
         FROM flatten_orders WHERE flatten_id = $1 ORDER BY created_at, symbol`,
      [id],
    );
    return { flatten: flattens.rows[0], connections: connections.rows, orders: orders.rows };
  }
}
