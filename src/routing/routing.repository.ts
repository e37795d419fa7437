import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { SealedSecret } from '../kms/envelope';
import type { OrderPlan, RouteRules } from './order-plan';

export interface SignalRow {
  id: string;
  seq: string;
  sourceId: string;
  status: string;
  payload: Record<string, unknown>;
}

export interface RouteRow extends RouteRules {
  broker: string;
  environment: 'paper' | 'live';
  connectionStatus: string;
  ordersLastMinute: number;
}

export interface OrderRow {
  id: string;
  routeId: string;
  connectionId: string;
  broker: string;
  clientOrderId: string;
  signalSeq: string;
  intent: OrderPlan['intent'];
  symbol: string;
  side: 'buy' | 'sell' | null;
  orderType: OrderPlan['type'];
  quantity: string | null;
  limitPrice: string | null;
  stopPrice: string | null;
  timeInForce: OrderPlan['timeInForce'] | null;
  takeProfit: string | null;
  stopLoss: string | null;
  referencePrice: string | null;
  status: 'pending' | 'submitted' | 'accepted' | 'filled' | 'rejected' | 'failed' | 'blocked';
  reason: string | null;
  attempts: number;
}

export const TERMINAL_ORDER_STATUSES: ReadonlySet<OrderRow['status']> = new Set(['accepted', 'filled', 'rejected', 'failed', 'blocked']);

export interface Switches {
  platformKill: boolean;
  workspaceKill: boolean;
  liveTradingEnabled: boolean;
}

export interface ConnectionState {
  status: string;
  environment: 'paper' | 'live';
  credentialVersion: number;
}

export interface NewOrder {
  id: string;
  routeId: string;
  connectionId: string;
  broker: string;
  clientOrderId: string;
  plan: OrderPlan;
  status: 'pending' | 'blocked';
  reason?: string;
}

const ORDER_COLUMNS = `id, route_id AS "routeId", connection_id AS "connectionId", broker, client_order_id AS "clientOrderId",
  signal_seq::text AS "signalSeq", intent, symbol, side, order_type AS "orderType", quantity::text, limit_price::text AS "limitPrice",
  stop_price::text AS "stopPrice", time_in_force AS "timeInForce", take_profit::text AS "takeProfit", stop_loss::text AS "stopLoss",
  reference_price::text AS "referencePrice", status, reason, attempts`;

/** The worker's queries, on raw pg inside TenantDb.runRaw transactions (the hot path). */
@Injectable()
export class RoutingRepository {
  async lockSignal(client: PoolClient, signalId: string): Promise<SignalRow | undefined> {
    const { rows } = await client.query<SignalRow>(
      `SELECT id, seq::text, source_id AS "sourceId", status, payload FROM signals WHERE id = $1 FOR UPDATE`,
      [signalId],
    );
    return rows[0];
  }

  async enabledRoutes(client: PoolClient, sourceId: string): Promise<RouteRow[]> {
    const { rows } = await client.query<RouteRow>(
      `SELECT r.id, r.connection_id AS "connectionId", r.sizing_mode AS "sizingMode", r.sizing_value::text AS "sizingValue",
              r.symbol_map AS "symbolMap", NULLIF(r.allowed_symbols, '{}') AS "allowedSymbols", r.max_quantity::text AS "maxQuantity",
              r.max_notional::text AS "maxNotional", r.max_orders_per_minute AS "maxOrdersPerMinute",
              c.broker, c.environment, c.status AS "connectionStatus",
              CASE WHEN r.max_orders_per_minute IS NULL THEN 0 ELSE
                (SELECT count(*)::int FROM orders o WHERE o.route_id = r.id AND o.status <> 'blocked' AND o.created_at > now() - interval '1 minute')
              END AS "ordersLastMinute"
         FROM routes r JOIN broker_connections c ON c.id = r.connection_id
        WHERE r.source_id = $1 AND r.enabled AND r.deleted_at IS NULL
        ORDER BY r.created_at, r.id`,
      [sourceId],
    );
    return rows;
  }

  /** Idempotent: a re-run of the same signal job finds the orders it already created. */
  async insertOrders(client: PoolClient, workspaceId: string, signal: SignalRow, orders: NewOrder[]): Promise<void> {
    if (orders.length === 0) return;
    const values: unknown[] = [];
    const tuples = orders.map((o) => {
      const p = o.plan;
      const row = [o.id, workspaceId, signal.id, o.routeId, o.connectionId, o.broker, o.clientOrderId, signal.seq, p.intent, p.symbol, p.side ?? null,
        p.type, p.quantity ?? null, p.limitPrice ?? null, p.stopPrice ?? null, p.timeInForce ?? null, p.takeProfit ?? null, p.stopLoss ?? null,
        p.referencePrice ?? null, o.status, o.reason ?? null];
      const start = values.length;
      values.push(...row);
      return `(${row.map((_, i) => `$${start + i + 1}`).join(', ')})`;
    });
    await client.query(
      `INSERT INTO orders (id, workspace_id, signal_id, route_id, connection_id, broker, client_order_id, signal_seq, intent, symbol, side,
         order_type, quantity, limit_price, stop_price, time_in_force, take_profit, stop_loss, reference_price, status, reason)
       VALUES ${tuples.join(', ')}
       ON CONFLICT (signal_id, route_id) DO NOTHING`,
      values,
    );
  }

  async ordersOfSignal(client: PoolClient, signalId: string): Promise<OrderRow[]> {
    const { rows } = await client.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE signal_id = $1 ORDER BY created_at, id`, [signalId]);
    return rows;
  }

  async markSignal(client: PoolClient, signalId: string, status: string, error: string | null = null): Promise<void> {
    const terminal = !['routing'].includes(status);
    await client.query(
      `UPDATE signals SET status = $2, error = $3,
         routing_started_at = COALESCE(routing_started_at, now()),
         completed_at = CASE WHEN $4 THEN now() ELSE completed_at END
       WHERE id = $1`,
      [signalId, status, error, terminal],
    );
  }

  /** Serialises one connection's orders across every worker for the rest of this transaction. */
  async lockConnection(client: PoolClient, connectionId: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))', [connectionId]);
  }

  /** The order as it is now (another run of the same job may have moved it since it was planned). */
  async orderProgress(client: PoolClient, orderId: string): Promise<{ status: OrderRow['status']; attempts: number }> {
    const { rows } = await client.query('SELECT status, attempts FROM orders WHERE id = $1', [orderId]);
    return rows[0];
  }

  /** An earlier signal's order on this connection not yet answered by the broker: it must go first. */
  async hasEarlierOpenOrder(client: PoolClient, connectionId: string, signalSeq: string): Promise<boolean> {
    const { rowCount } = await client.query(
      `SELECT 1 FROM orders WHERE connection_id = $1 AND signal_seq < $2 AND status IN ('pending', 'submitted') LIMIT 1`,
      [connectionId, signalSeq],
    );
    return (rowCount ?? 0) > 0;
  }

  async switchesAndConnection(client: PoolClient, connectionId: string): Promise<{ switches: Switches; connection: ConnectionState | undefined }> {
    const { rows } = await client.query(
      `SELECT p.kill_switch_engaged AS "platformKill", w.kill_switch_engaged AS "workspaceKill", w.live_trading_enabled AS "liveTradingEnabled",
              c.status, c.environment, c.credential_version AS "credentialVersion"
         FROM platform_settings p
         CROSS JOIN workspaces w
         LEFT JOIN broker_connections c ON c.id = $1
        WHERE p.id = 1`,
      [connectionId],
    );
    const r = rows[0];
    return {
      switches: { platformKill: r.platformKill, workspaceKill: r.workspaceKill, liveTradingEnabled: r.liveTradingEnabled },
      connection: r.status ? { status: r.status, environment: r.environment, credentialVersion: r.credentialVersion } : undefined,
    };
  }

  async markSubmitted(client: PoolClient, orderId: string, jobId: string): Promise<void> {
    await client.query(
      `UPDATE orders SET status = 'submitted', routing_job_id = $2, attempts = attempts + 1, sent_at = clock_timestamp(), updated_at = clock_timestamp()
        WHERE id = $1`,
      [orderId, jobId],
    );
  }

  async finishOrder(
    client: PoolClient,
    orderId: string,
    outcome: { status: OrderRow['status']; reason?: string; brokerOrderId?: string; filledQuantity?: string; averagePrice?: string; quantity?: string },
  ): Promise<void> {
    await client.query(
      `UPDATE orders SET status = $2, reason = $3, broker_order_id = COALESCE($4, broker_order_id), filled_quantity = $5, average_price = $6,
         quantity = COALESCE($7, quantity),
         acknowledged_at = CASE WHEN $2 IN ('accepted', 'filled', 'rejected') THEN clock_timestamp() ELSE acknowledged_at END,
         updated_at = clock_timestamp()
       WHERE id = $1`,
      [orderId, outcome.status, outcome.reason ?? null, outcome.brokerOrderId ?? null, outcome.filledQuantity ?? null, outcome.averagePrice ?? null,
        outcome.quantity ?? null],
    );
  }

  /** Is this order, right now, submitted by this job to this connection? The routing context check. */
  async isActiveRoutingContext(client: PoolClient, ctx: { orderId: string; jobId: string; connectionId: string }): Promise<boolean> {
    const { rowCount } = await client.query(
      `SELECT 1 FROM orders o JOIN broker_connections c ON c.id = o.connection_id
        WHERE o.id = $1 AND o.routing_job_id = $2 AND o.connection_id = $3 AND o.status = 'submitted' AND c.status = 'active'`,
      [ctx.orderId, ctx.jobId, ctx.connectionId],
    );
    return (rowCount ?? 0) > 0;
  }

  async currentSealedCredential(client: PoolClient, connectionId: string): Promise<{ version: number; sealed: SealedSecret } | undefined> {
    const { rows } = await client.query(
      `SELECT v.version, v.format_version AS "formatVersion", v.algorithm, v.kms_key_id AS "kmsKeyId", v.wrapped_key AS "wrappedKey",
              v.iv, v.tag, v.ciphertext
         FROM broker_connections c JOIN credential_versions v ON v.connection_id = c.id AND v.version = c.credential_version
        WHERE c.id = $1 AND c.status = 'active'`,
      [connectionId],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      version: r.version,
      sealed: { formatVersion: r.formatVersion, algorithm: r.algorithm, kmsKeyId: r.kmsKeyId, wrappedKey: r.wrappedKey, iv: r.iv, tag: r.tag, ciphertext: r.ciphertext },
    };
  }
}
