import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { AuditEventInput } from '../audit/audit-event';

export interface FlattenRow {
  id: string;
  /** `route`: a route's symbols on its connection, at its trading window's end. */
  scope: 'connection' | 'workspace' | 'route';
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

/** An order awaiting approval that a flatten ended. */
export interface FlattenedApproval {
  id: string;
  routeId: string;
  symbol: string;
  signalId: string;
}

/** The reason an order awaiting approval ends with when its connection is flattened. */
export function flattenedReason(flattenId: string): string {
  return `flattened: the connection was flattened (flatten ${flattenId}) while the order awaited approval; it was not sent`;
}

/** The audit events of the orders a flatten ended, one each, with the flatten's actor. */
export function flattenedApprovalEvents(
  actor: AuditEventInput['actor'],
  requestId: string | undefined,
  flattenId: string,
  orders: FlattenedApproval[],
): AuditEventInput[] {
  return orders.map((o) => ({
    action: 'order.reject' as const,
    actor,
    requestId,
    resource: { type: 'order', id: o.id },
    reason: flattenedReason(flattenId),
    metadata: { flattenId, signalId: o.signalId, routeId: o.routeId, symbol: o.symbol },
  }));
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

  /**
   * Records the flatten and its connections, and ends their orders awaiting approval `rejected` (with a transition row):
   * nothing approved after the flatten may open the positions again. Returns the orders it ended.
   */
  async insert(
    client: PoolClient,
    workspaceId: string,
    flatten: Omit<FlattenRow, 'createdAt'>,
    connectionIds: string[],
    only?: { routeId: string; symbols: string[] },
  ): Promise<FlattenedApproval[]> {
    const { rows } = await client.query<FlattenedApproval>(
      `WITH f AS (INSERT INTO flattens (id, workspace_id, scope, reason, requested_by_type, requested_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id),
       fc AS (INSERT INTO flatten_connections (workspace_id, flatten_id, connection_id, symbols)
              SELECT $2, f.id, c, $10::text[] FROM f, unnest($7::uuid[]) AS c),
       ended AS (
         UPDATE orders SET status = 'rejected', reason = $8, approval_decided_at = clock_timestamp(), updated_at = clock_timestamp()
          WHERE connection_id = ANY($7::uuid[]) AND status = 'awaiting_approval' AND ($9::uuid IS NULL OR route_id = $9)
          RETURNING id, workspace_id, route_id, symbol, signal_id),
       transitions AS (
         INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status) SELECT workspace_id, id, 'awaiting_approval', 'rejected' FROM ended)
       SELECT id, route_id AS "routeId", symbol, signal_id AS "signalId" FROM ended`,
      [
        flatten.id,
        workspaceId,
        flatten.scope,
        flatten.reason,
        flatten.requestedByType,
        flatten.requestedBy,
        connectionIds,
        flattenedReason(flatten.id),
        only?.routeId ?? null,
        only?.symbols ?? null,
      ],
    );
    return rows;
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
