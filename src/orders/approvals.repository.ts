import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';

export interface DecidedOrder {
  id: string;
  signalId: string;
  routeId: string;
  symbol: string;
}

/** Where an order stands when a decision on it could not be recorded. */
export interface ApprovalState {
  status: string;
  expiresAt: Date | null;
  earlierLegAwaiting: boolean;
}

/** The api's writes of a reviewer's decision: only the columns its grant allows, with the transition rows. */
@Injectable()
export class ApprovalsRepository {
  /**
   * Moves the order, and the later legs of its signal on the same route (a reversal's open after its close), from
   * `awaiting_approval` to `status`, if it still awaits approval before its expiry and no earlier leg does. The row
   * lock makes a second decision (concurrent or late) find nothing: it returns no rows.
   */
  async decide(client: PoolClient, orderId: string, status: 'pending' | 'rejected', reason: string | null): Promise<DecidedOrder[]> {
    const { rows } = await client.query<DecidedOrder>(
      `WITH target AS (
         SELECT o.id, o.signal_id, o.route_id, o.leg FROM orders o
          WHERE o.id = $1 AND o.status = 'awaiting_approval' AND o.approval_expires_at > clock_timestamp()
            AND NOT EXISTS (SELECT 1 FROM orders e WHERE e.signal_id = o.signal_id AND e.route_id = o.route_id AND e.leg < o.leg AND e.status = 'awaiting_approval')
          FOR UPDATE),
       decided AS (
         UPDATE orders x SET status = $2, reason = $3, approval_decided_at = clock_timestamp(), updated_at = clock_timestamp()
           FROM target t
          WHERE x.signal_id = t.signal_id AND x.route_id = t.route_id AND x.leg >= t.leg AND x.status = 'awaiting_approval'
          RETURNING x.id, x.workspace_id, x.signal_id, x.route_id, x.symbol, x.leg),
       moved AS (
         INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status) SELECT workspace_id, id, 'awaiting_approval', $2 FROM decided)
       SELECT id, signal_id AS "signalId", route_id AS "routeId", symbol FROM decided ORDER BY leg`,
      [orderId, status, reason],
    );
    return rows;
  }

  async state(client: PoolClient, orderId: string): Promise<ApprovalState | undefined> {
    const { rows } = await client.query<ApprovalState>(
      `SELECT o.status, o.approval_expires_at AS "expiresAt",
              EXISTS (SELECT 1 FROM orders e WHERE e.signal_id = o.signal_id AND e.route_id = o.route_id AND e.leg < o.leg AND e.status = 'awaiting_approval') AS "earlierLegAwaiting"
         FROM orders o WHERE o.id = $1`,
      [orderId],
    );
    return rows[0];
  }
}
