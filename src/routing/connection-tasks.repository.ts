import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { AccountSummary, HeldPosition, OrderAck } from '../brokers/broker-adapter';

/** The connection a snapshot or flatten job works on, read with its row locked. */
export interface TaskConnection {
  broker: string;
  environment: 'paper' | 'live';
  connectionStatus: string;
}

/** A closing order of a flatten, as recorded before (and after) the broker call. */
export interface FlattenOrderRow {
  symbol: string;
  side: 'buy' | 'sell';
  quantity: string;
  clientOrderId: string;
  status: 'pending' | 'accepted' | 'partially_filled' | 'filled' | 'canceled' | 'expired' | 'rejected';
}

export interface FlattenTarget extends TaskConnection {
  status: 'pending' | 'running' | 'done' | 'failed';
  /** Symbols of the connection's orders still working at the broker (their open orders are canceled too). */
  workingSymbols: string[];
  /** The symbols this flatten closes (a route's, at its window's end); null: all of them. */
  symbols: string[] | null;
  /** Closing orders an earlier attempt of this job recorded. */
  orders: FlattenOrderRow[];
}

/** What the broker said of a close: its first answer, or its state looked up afterwards. */
export type CloseAnswer = Pick<OrderAck, 'status' | 'brokerOrderId' | 'filledQuantity' | 'averagePrice' | 'reason'>;

/** The worker's queries for connection-wide jobs: positions/account snapshots and flattens. */
@Injectable()
export class ConnectionTasksRepository {
  /** The snapshot request, locked, only while it is the one asked for and still unanswered. */
  async snapshotRequest(client: PoolClient, connectionId: string, requestId: string): Promise<TaskConnection | undefined> {
    const { rows } = await client.query<TaskConnection>(
      `SELECT c.broker, c.environment, c.status AS "connectionStatus"
         FROM connection_snapshots s JOIN broker_connections c ON c.id = s.connection_id
        WHERE s.connection_id = $1 AND s.request_id = $2 AND s.answered_request_id IS DISTINCT FROM $2
        FOR UPDATE OF s`,
      [connectionId, requestId],
    );
    return rows[0];
  }

  /** Answers the request: the fetched positions and account, or the error (the last good snapshot stays). */
  async answerSnapshot(
    client: PoolClient,
    connectionId: string,
    requestId: string,
    answer: { positions: HeldPosition[]; account: AccountSummary } | { error: string },
  ): Promise<void> {
    if ('error' in answer) {
      await client.query(`UPDATE connection_snapshots SET error = $3, answered_request_id = $2 WHERE connection_id = $1`, [
        connectionId,
        requestId,
        answer.error.slice(0, 500),
      ]);
      return;
    }
    await client.query(
      `UPDATE connection_snapshots SET positions = $3, account = $4, fetched_at = clock_timestamp(), error = NULL, answered_request_id = $2 WHERE connection_id = $1`,
      [connectionId, requestId, JSON.stringify(answer.positions), JSON.stringify(answer.account)],
    );
  }

  /** The flatten of one connection, locked (a second delivery of the job waits for the first's transaction). */
  /**
   * Waits until no other flatten of the connection is at its broker, and holds that until `client`'s transaction ends:
   * two flattens reading one position at once would both close it (a long position became as large a short).
   */
  async lockFlattens(client: PoolClient, connectionId: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1::text, 8))', [connectionId]);
  }

  async takeFlatten(client: PoolClient, flattenId: string, connectionId: string): Promise<FlattenTarget | undefined> {
    const { rows } = await client.query<FlattenTarget>(
      `SELECT f.status, c.broker, c.environment, c.status AS "connectionStatus", f.symbols,
              ARRAY(SELECT DISTINCT o.symbol FROM orders o
                     WHERE o.connection_id = f.connection_id AND o.status IN ('accepted', 'partially_filled') AND o.intent <> 'cancel') AS "workingSymbols",
              (SELECT coalesce(json_agg(json_build_object('symbol', x.symbol, 'side', x.side, 'quantity', x.quantity::text,
                        'clientOrderId', x.client_order_id, 'status', x.status)), '[]')
                 FROM flatten_orders x WHERE x.flatten_id = f.flatten_id AND x.connection_id = f.connection_id) AS orders
         FROM flatten_connections f JOIN broker_connections c ON c.id = f.connection_id
        WHERE f.flatten_id = $1 AND f.connection_id = $2
        FOR UPDATE OF f`,
      [flattenId, connectionId],
    );
    return rows[0];
  }

  async markFlattenRunning(client: PoolClient, flattenId: string, connectionId: string): Promise<void> {
    await client.query(
      `UPDATE flatten_connections SET status = 'running', attempts = attempts + 1, updated_at = clock_timestamp() WHERE flatten_id = $1 AND connection_id = $2`,
      [flattenId, connectionId],
    );
  }

  /** Counts open orders canceled by an attempt (a retry's add to the earlier attempts' count). */
  async addCanceled(client: PoolClient, flattenId: string, connectionId: string, canceled: number): Promise<void> {
    await client.query(
      `UPDATE flatten_connections SET canceled_orders = COALESCE(canceled_orders, 0) + $3, updated_at = clock_timestamp() WHERE flatten_id = $1 AND connection_id = $2`,
      [flattenId, connectionId, canceled],
    );
  }

  /** Ends an unfinished flatten of a connection; returns how many open orders its attempts canceled (undefined if it had ended already). */
  async finishFlatten(
    client: PoolClient,
    flattenId: string,
    connectionId: string,
    result: { status: 'done' | 'failed'; error?: string },
  ): Promise<{ canceledOrders: number | null } | undefined> {
    const { rows } = await client.query<{ canceledOrders: number | null }>(
      `UPDATE flatten_connections SET status = $3, error = $4, updated_at = clock_timestamp()
        WHERE flatten_id = $1 AND connection_id = $2 AND status IN ('pending', 'running')
        RETURNING canceled_orders AS "canceledOrders"`,
      [flattenId, connectionId, result.status, result.error?.slice(0, 1000) ?? null],
    );
    return rows[0];
  }

  /**
   * The close about to be sent, committed before the broker call: a redelivered job finds it and asks the broker by
   * its client order id instead of closing again. A close still unanswered takes the position's current size.
   */
  async recordClose(client: PoolClient, workspaceId: string, flattenId: string, connectionId: string, close: Omit<FlattenOrderRow, 'status'>): Promise<void> {
    await client.query(
      `INSERT INTO flatten_orders (workspace_id, flatten_id, connection_id, symbol, side, quantity, client_order_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (flatten_id, connection_id, symbol) DO UPDATE SET side = EXCLUDED.side, quantity = EXCLUDED.quantity, updated_at = clock_timestamp()
        WHERE flatten_orders.status = 'pending'`,
      [workspaceId, flattenId, connectionId, close.symbol, close.side, close.quantity, close.clientOrderId],
    );
  }

  /** The broker's answer to a close (or why it refused it). */
  async answerClose(client: PoolClient, flattenId: string, connectionId: string, symbol: string, answer: CloseAnswer | { rejected: string }): Promise<void> {
    const ack = 'rejected' in answer ? undefined : answer;
    await client.query(
      `UPDATE flatten_orders SET status = $4, broker_order_id = COALESCE($5, broker_order_id), filled_quantity = $6, average_price = $7, reason = $8, updated_at = clock_timestamp()
        WHERE flatten_id = $1 AND connection_id = $2 AND symbol = $3`,
      [
        flattenId,
        connectionId,
        symbol,
        ack?.status ?? 'rejected',
        ack?.brokerOrderId ?? null,
        ack?.filledQuantity ?? null,
        ack?.averagePrice ?? null,
        'rejected' in answer ? answer.rejected.slice(0, 1000) : (ack?.reason ?? null),
      ],
    );
  }
}
