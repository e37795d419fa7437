import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { BrokerFill, BrokerLeg, BrokerOrderStatus } from '../brokers/broker-adapter';
import { PG_LIFECYCLE_POOL } from '../database/database.tokens';

/** An order the poller holds for one ask at its broker. */
export interface SyncedOrder {
  id: string;
  connectionId: string;
  broker: string;
  clientOrderId: string;
  /** The broker's id from its first answer, when it gave one. */
  brokerOrderId: string | null;
  symbol: string;
  status: 'accepted' | 'partially_filled';
  environment: 'paper' | 'live';
  /** What the order's fills add up to so far ("0" when none). */
  filledQuantity: string;
  averagePrice: string | null;
  /** Asks in a row that failed before this one (the backoff's exponent). */
  syncFailures: number;
  connectionStatus: string;
  /** When the broker's state was last recorded (a poll or a stream event). */
  syncedAt: Date | null;
}

/** Where the broker's answer leaves the order. */
export interface SyncResult {
  status: BrokerOrderStatus;
  brokerOrderId: string;
  reason?: string;
  fills: BrokerFill[];
  /** When to ask again, while the order still works at the broker. */
  nextInMs: number;
}

const WORKING = `('accepted', 'partially_filled')`;

/** The lifecycle poller's queries: finding due orders across workspaces, then each order in its workspace. */
@Injectable()
export class OrderSyncRepository {
  constructor(@Inject(PG_LIFECYCLE_POOL) private readonly pool: Pool) {}

  /** Orders due for a poll, or (with `sweepAfter`) every working order after that id, through the SECURITY DEFINER scan. */
  async due(brokers: string[], limit: number, sweepAfter?: string): Promise<{ id: string; workspaceId: string }[]> {
    const { rows } = await this.pool.query<{ id: string; workspace_id: string }>(
      'SELECT id::text AS id, workspace_id::text AS workspace_id FROM orders_sync_due($1, $2, $3)',
      [brokers, limit, sweepAfter ?? null],
    );
    return rows.map((r) => ({ id: r.id, workspaceId: r.workspace_id }));
  }

  /**
   * Takes the order for one ask (its next poll pushed `leaseMs` out, so no other worker asks meanwhile); undefined
   * when it is no longer working, or not due (unless `force`: the start-up sweep), or another worker holds it.
   */
  async take(client: PoolClient, orderId: string, leaseMs: number, force: boolean): Promise<SyncedOrder | undefined> {
    const { rows } = await client.query<SyncedOrder>({
      name: 'sync.take',
      text: `UPDATE orders o SET next_sync_at = clock_timestamp() + $2 * interval '1 millisecond'
          FROM broker_connections c
         WHERE o.id = $1 AND c.id = o.connection_id AND o.status IN ${WORKING} AND o.intent <> 'cancel'
           AND ($3 OR o.next_sync_at IS NULL OR o.next_sync_at <= now())
        RETURNING o.id, o.connection_id AS "connectionId", o.broker, o.client_order_id AS "clientOrderId", o.broker_order_id AS "brokerOrderId", o.symbol, o.status, c.environment,
          COALESCE(o.filled_quantity, 0)::text AS "filledQuantity", o.average_price::text AS "averagePrice",
          o.sync_failures AS "syncFailures", c.status AS "connectionStatus", o.synced_at AS "syncedAt"`,
      values: [orderId, leaseMs, force],
    });
    return rows[0];
  }

  /**
   * Records the broker's answer: its new fills (a fill already recorded is skipped), then the order's status,
   * filled quantity and average price derived from all its fills, and the transition when the status changed.
   */
  async apply(client: PoolClient, orderId: string, result: SyncResult): Promise<void> {
    if (result.fills.length > 0) {
      await client.query({
        name: 'sync.insert_fills',
        text: `INSERT INTO order_fills (workspace_id, order_id, broker_fill_id, quantity, price, fee, filled_at)
          SELECT o.workspace_id, o.id, f.id, f.quantity, f.price, f.fee, f.at
            FROM orders o, unnest($2::text[], $3::numeric[], $4::numeric[], $5::numeric[], $6::timestamptz[]) AS f(id, quantity, price, fee, at)
           WHERE o.id = $1
          ON CONFLICT (order_id, broker_fill_id) DO NOTHING`,
        values: [
          orderId,
          result.fills.map((f) => f.brokerFillId),
          result.fills.map((f) => f.quantity),
          result.fills.map((f) => f.price),
          result.fills.map((f) => f.fee ?? null),
          result.fills.map((f) => f.time),
        ],
      });
    }
    await client.query({
      name: 'sync.apply',
      text: `WITH prev AS (SELECT status FROM orders WHERE id = $1),
        sums AS (SELECT sum(quantity) AS quantity, trim_scale(round(sum(quantity * price) / sum(quantity), 12)) AS price FROM order_fills WHERE order_id = $1),
        updated AS (
          UPDATE orders o SET status = $2, reason = COALESCE($3, o.reason), broker_order_id = COALESCE(o.broker_order_id, $4),
                 filled_quantity = COALESCE(sums.quantity, o.filled_quantity), average_price = COALESCE(sums.price, o.average_price), sync_failures = 0, synced_at = clock_timestamp(),
                 next_sync_at = CASE WHEN $2 IN ${WORKING} THEN clock_timestamp() + $5 * interval '1 millisecond' END, updated_at = clock_timestamp()
            FROM sums WHERE o.id = $1 AND o.status IN ${WORKING}
          RETURNING o.id, o.workspace_id, o.status)
        INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status)
        SELECT u.workspace_id, u.id, prev.status, u.status FROM updated u, prev WHERE prev.status IS DISTINCT FROM u.status`,
      values: [orderId, result.status, result.reason ?? null, result.brokerOrderId, result.nextInMs],
    });
  }

  /**
   * The entry's bracket legs as orders of their own, idempotent by the broker's leg order id: a leg not recorded yet is
   * inserted `accepted` (with its transition) under the entry's signal, route and connection, due for a poll at once.
   * Returns every given leg's order id, for its state to be recorded like any order's.
   */
  async recordLegs(client: PoolClient, parentOrderId: string, legs: BrokerLeg[]): Promise<{ id: string; brokerOrderId: string }[]> {
    const { rows } = await client.query<{ id: string; brokerOrderId: string }>({
      name: 'sync.record_legs',
      text: `WITH l AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[], $9::numeric[])
                  AS l(broker_id, client_id, role, side, type, quantity, limit_price, stop_price)),
        inserted AS (
          INSERT INTO orders (id, workspace_id, signal_id, route_id, connection_id, broker, client_order_id, signal_seq, leg, intent, symbol, side, order_type,
                              quantity, limit_price, stop_price, time_in_force, status, broker_order_id, parent_order_id, bracket_role, sent_at, acknowledged_at, next_sync_at)
          SELECT gen_random_uuid(), p.workspace_id, p.signal_id, p.route_id, p.connection_id, p.broker, l.client_id, p.signal_seq, p.leg, 'exit', p.symbol, l.side, l.type,
                 l.quantity, l.limit_price, l.stop_price, p.time_in_force, 'accepted', l.broker_id, p.id, l.role, p.sent_at, clock_timestamp(), clock_timestamp()
            FROM orders p, l WHERE p.id = $1 AND p.parent_order_id IS NULL
          ON CONFLICT DO NOTHING
          RETURNING id, workspace_id, broker_order_id),
        transitions AS (INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status) SELECT workspace_id, id, NULL, 'accepted' FROM inserted)
        SELECT id, broker_order_id AS "brokerOrderId" FROM inserted
        UNION ALL
        SELECT id, broker_order_id FROM orders WHERE parent_order_id = $1 AND broker_order_id = ANY($2::text[])`,
      values: [
        parentOrderId,
        legs.map((l) => l.state.brokerOrderId),
        legs.map((l) => l.clientOrderId),
        legs.map((l) => l.role),
        legs.map((l) => l.side),
        legs.map((l) => l.type),
        legs.map((l) => l.quantity),
        legs.map((l) => l.limitPrice ?? null),
        legs.map((l) => l.stopPrice ?? null),
      ],
    });
    return rows;
  }

  /** Locks a working order for recording the broker's state; what its fills add up to now. Undefined once it ended. */
  async lockWorking(client: PoolClient, orderId: string): Promise<{ status: string; filledQuantity: string; averagePrice: string | null } | undefined> {
    const { rows } = await client.query<{ status: string; filledQuantity: string; averagePrice: string | null }>({
      name: 'sync.lock_working',
      text: `SELECT status, COALESCE(filled_quantity, 0)::text AS "filledQuantity", average_price::text AS "averagePrice"
          FROM orders WHERE id = $1 AND status IN ${WORKING} FOR UPDATE`,
      values: [orderId],
    });
    return rows[0];
  }

  /** Not asked this time (its connection's stream follows it): the next ask waits `inMs`. */
  async postpone(client: PoolClient, orderId: string, inMs: number): Promise<void> {
    await client.query({
      name: 'sync.postpone',
      text: `UPDATE orders SET next_sync_at = clock_timestamp() + $2 * interval '1 millisecond' WHERE id = $1`,
      values: [orderId, inMs],
    });
  }

  /** The ask failed: the next one waits `retryInMs` (the caller's backoff). */
  async failed(client: PoolClient, orderId: string, retryInMs: number): Promise<void> {
    await client.query({
      name: 'sync.failed',
      text: `UPDATE orders SET sync_failures = sync_failures + 1, next_sync_at = clock_timestamp() + $2 * interval '1 millisecond' WHERE id = $1`,
      values: [orderId, retryInMs],
    });
  }
}
