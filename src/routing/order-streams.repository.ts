import { Inject, Injectable } from '@nestjs/common';
import type { Notification, Pool, PoolClient } from 'pg';
import type { BrokerEnvironment } from '../brokers/broker-adapter';
import { PG_LIFECYCLE_POOL } from '../database/database.tokens';

/** A connection to stream: active, with a working order of a streaming broker. */
export interface StreamedConnection {
  workspaceId: string;
  connectionId: string;
  broker: string;
}

const REVOKED_CHANNEL = 'switchyard_connection_revoked';

/** The stream manager's queries: which connections to stream (across workspaces), then each connection in its workspace. */
@Injectable()
export class OrderStreamsRepository {
  constructor(@Inject(PG_LIFECYCLE_POOL) private readonly pool: Pool) {}

  /** Through the SECURITY DEFINER scan: at most `limit` connections. */
  async connections(brokers: string[], limit: number): Promise<StreamedConnection[]> {
    const { rows } = await this.pool.query<StreamedConnection>(
      'SELECT workspace_id::text AS "workspaceId", connection_id::text AS "connectionId", broker FROM order_stream_connections($1, $2)',
      [brokers, limit],
    );
    return rows;
  }

  /**
   * One working order of the active connection (the routing-style context a stream's credential is opened in),
   * held FOR SHARE until the caller's transaction ends so it cannot end meanwhile; undefined when there is none.
   */
  async workingOrder(client: PoolClient, connectionId: string): Promise<{ orderId: string; environment: BrokerEnvironment } | undefined> {
    const { rows } = await client.query<{ orderId: string; environment: BrokerEnvironment }>({
      name: 'streams.working_order',
      text: `SELECT o.id AS "orderId", c.environment FROM orders o JOIN broker_connections c ON c.id = o.connection_id
         WHERE o.connection_id = $1 AND c.status = 'active' AND o.status IN ('accepted', 'partially_filled') AND o.intent <> 'cancel'
         ORDER BY o.id LIMIT 1 FOR SHARE OF o`,
      values: [connectionId],
    });
    return rows[0];
  }

  /** Our order behind a stream event, by the client order id we gave the broker. */
  async orderByClientOrderId(client: PoolClient, connectionId: string, clientOrderId: string): Promise<string | undefined> {
    const { rows } = await client.query<{ id: string }>({
      name: 'streams.order_by_client_order_id',
      text: 'SELECT id FROM orders WHERE connection_id = $1 AND client_order_id = $2',
      values: [connectionId, clientOrderId],
    });
    return rows[0]?.id;
  }

  /**
   * A stream just came up: what it missed while down is asked for at once (each working order polled once).
   * Returns the database's time now, which the poller compares with the orders' `synced_at` (one clock for both).
   */
  async markDue(client: PoolClient, connectionId: string): Promise<Date> {
    const { rows } = await client.query<{ now: Date }>({
      name: 'streams.mark_due',
      text: `WITH due AS (UPDATE orders SET next_sync_at = clock_timestamp() WHERE connection_id = $1 AND status IN ('accepted', 'partially_filled') AND intent <> 'cancel')
        SELECT clock_timestamp() AS now`,
      values: [connectionId],
    });
    return rows[0].now;
  }

  /**
   * Calls `onRevoked` with each connection revoked from now on (at its commit), on a connection held for it;
   * `onLost` when that connection fails (the caller listens again later). The returned function stops listening.
   */
  async listenRevocations(onRevoked: (connectionId: string) => void, onLost: () => void): Promise<() => Promise<void>> {
    const client = await this.pool.connect();
    let released = false;
    const release = (err?: Error) => {
      if (released) return;
      released = true;
      client.release(err);
    };
    client.on('notification', (n: Notification) => {
      if (n.channel === REVOKED_CHANNEL && n.payload) onRevoked(n.payload);
    });
    // A checked-out client's error has no other listener: unhandled, it would end the process.
    client.on('error', (err) => {
      release(err);
      onLost();
    });
    try {
      await client.query(`LISTEN ${REVOKED_CHANNEL}`);
    } catch (err) {
      release(err as Error);
      throw err;
    }
    return async () => {
      if (released) return;
      await client.query(`UNLISTEN ${REVOKED_CHANNEL}`).catch(() => undefined);
      release();
    };
  }
}
