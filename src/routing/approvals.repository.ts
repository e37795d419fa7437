import { Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';

/** What the approval sweep has to do: expire an order nobody approved, or add a decision's job again. */
export interface ApprovalDue {
  workspaceId: string;
  orderId: string;
  signalId: string;
  due: 'expire' | 'requeue';
}

/** The approval sweep's queries (worker). */
@Injectable()
export class ApprovalsRepository {
  /** Across workspaces, through the SECURITY DEFINER scan `approvals_due` only. */
  async due(pool: Pool, decidedForMs: number, limit: number): Promise<ApprovalDue[]> {
    const { rows } = await pool.query<ApprovalDue>(
      `SELECT workspace_id::text AS "workspaceId", order_id::text AS "orderId", signal_id::text AS "signalId", due FROM approvals_due($1, $2)`,
      [decidedForMs, limit],
    );
    return rows;
  }

  /** The order, locked, if it still awaits approval past its expiry (an approval that committed first wins). */
  async lockExpired(client: PoolClient, orderId: string): Promise<{ id: string; routeId: string; symbol: string; expiresAt: Date } | undefined> {
    const { rows } = await client.query<{ id: string; routeId: string; symbol: string; expiresAt: Date }>(
      `SELECT id, route_id AS "routeId", symbol, approval_expires_at AS "expiresAt" FROM orders
        WHERE id = $1 AND status = 'awaiting_approval' AND approval_expires_at <= clock_timestamp() FOR UPDATE`,
      [orderId],
    );
    return rows[0];
  }

  /** Ends a locked awaiting order `expired`, with its transition row. */
  async expire(client: PoolClient, orderId: string, reason: string): Promise<void> {
    await client.query(
      `WITH expired AS (
         UPDATE orders SET status = 'expired', reason = $2, approval_decided_at = clock_timestamp(), updated_at = clock_timestamp()
          WHERE id = $1 RETURNING id, workspace_id)
       INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status) SELECT workspace_id, id, 'awaiting_approval', 'expired' FROM expired`,
      [orderId, reason],
    );
  }
}
