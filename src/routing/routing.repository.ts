import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { TradingWindow } from '../common/trading-windows';
import type { SealedSecret } from '../kms/envelope';
import { isPositiveDecimal, parseDecimal } from '../common/decimal';
import { cumulativeFillId } from './order-fills';
import type { OrderPlan, RouteRules } from './order-plan';
import type { ConnectionRisk } from './risk/connection-switch';
import type { ApprovalSettings } from './risk/approval';
import type { WorkspaceLimits } from './risk/workspace-limits';
import type { ConnectionBook, WorkingEntry } from './risk/position-limits';

export interface SignalRow {
  id: string;
  seq: string;
  sourceId: string;
  status: string;
  payload: Record<string, unknown>;
  receivedAt: Date;
}

export interface RouteRow extends RouteRules {
  broker: string;
  environment: 'paper' | 'live';
  connectionStatus: string;
  /** As of the plan's read (before the connection lock): a claim checks it again under the lock. */
  credentialVersion: number;
  ordersLastMinute: number;
  maxSignalAgeSeconds: number | null;
  workspaceMaxSignalAgeSeconds: number | null;
  tradingWindows: TradingWindow[] | null;
  blockExitsOutsideWindows: boolean;
  /** Effective duplicate window (the longer of the route's and the workspace's), for the reason's words. */
  duplicateWindowSeconds: number | null;
  maxPosition: string | null;
  maxOpenPositions: number | null;
  /** The route's connection sets a daily loss limit or a maximum drawdown (looked at when entries are planned). */
  lossLimited: boolean;
  /** An earlier signal of the source with this one's ticker, action and sentiment inside the window (see DUPLICATE_OF). */
  duplicateOf: string | null;
  /** The workspace's defaults and ceilings, as read; withWorkspaceLimits folds them into the route's (risk/workspace-limits.ts). */
  workspaceLimits: WorkspaceLimits;
  /** The workspace's trading windows: they apply on top of the route's own. */
  workspaceTradingWindows?: TradingWindow[] | null;
  /** Exits are blocked outside windows because the workspace says so (the route does not): the reason says whose rule it is. */
  exitsBlockedByWorkspace?: boolean;
  /** Manual approval: the route's and the workspace's settings (see risk/approval.ts). */
  approval: ApprovalSettings;
  workspaceApproval: ApprovalSettings;
}

export interface OrderRow {
  id: string;
  routeId: string;
  connectionId: string;
  broker: string;
  clientOrderId: string;
  signalSeq: string;
  /** Position within the signal's orders for one route (0, or 0 then 1 for a reversal's close then open). */
  leg: number;
  intent: OrderPlan['intent'];
  positionRule: OrderPlan['positionRule'] | null;
  symbol: string;
  side: 'buy' | 'sell' | null;
  orderType: OrderPlan['type'];
  quantity: string | null;
  limitPrice: string | null;
  stopPrice: string | null;
  timeInForce: OrderPlan['timeInForce'] | null;
  takeProfit: string | null;
  stopLoss: string | null;
  stopLossLimit: string | null;
  trailPercent: string | null;
  trailAmount: string | null;
  referencePrice: string | null;
  status:
    | 'awaiting_approval'
    | 'pending'
    | 'submitted'
    | 'accepted'
    | 'partially_filled'
    | 'filled'
    | 'canceled'
    | 'expired'
    | 'rejected'
    | 'failed'
    | 'blocked'
    | 'skipped';
  reason: string | null;
  attempts: number;
}

/** The reason code of an order dropped as a repeat of an earlier signal (the duplicate check skips those). */
export const DUPLICATE_CODE = 'duplicate_signal';

const SIGNED_DECIMAL = /^-?\d+(\.\d+)?$/;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Answered: routing is done with the order (an accepted or partially filled one is then followed by OrderSync). */
export const TERMINAL_ORDER_STATUSES: ReadonlySet<OrderRow['status']> = new Set([
  'accepted',
  'partially_filled',
  'filled',
  'canceled',
  'expired',
  'rejected',
  'failed',
  'blocked',
  'skipped',
]);

export interface Switches {
  platformKill: boolean;
  workspaceKill: boolean;
  liveTradingEnabled: boolean;
}

export interface ConnectionState {
  status: string;
  environment: 'paper' | 'live';
  credentialVersion: number;
  /** Its own kill switch and this session's loss-limit breach (src/routing/risk/connection-switch.ts). */
  risk: ConnectionRisk;
}

export interface NewOrder {
  id: string;
  routeId: string;
  connectionId: string;
  broker: string;
  leg: number;
  clientOrderId: string;
  plan: OrderPlan;
  status: 'pending' | 'blocked' | 'awaiting_approval';
  /** Set on an order awaiting approval: when the worker's sweep ends it `expired`. */
  approvalExpiresAt?: Date;
  reason?: string;
  /** The risk limit that blocked it, when one did (audited as `order.blocked`). */
  limit?: string;
}

const ORDER_COLUMNS = `id, route_id AS "routeId", connection_id AS "connectionId", broker, client_order_id AS "clientOrderId",
  signal_seq::text AS "signalSeq", leg, intent, position_rule AS "positionRule", symbol, side, order_type AS "orderType", quantity::text, limit_price::text AS "limitPrice",
  stop_price::text AS "stopPrice", time_in_force AS "timeInForce", take_profit::text AS "takeProfit", stop_loss::text AS "stopLoss",
  stop_loss_limit::text AS "stopLossLimit", trail_percent::text AS "trailPercent", trail_amount::text AS "trailAmount",
  reference_price::text AS "referencePrice", status, reason, attempts`;

/** What planning a signal starts from, read with the signal row locked. */
export interface PlanState {
  signal: SignalRow;
  routes: RouteRow[];
  orders: OrderRow[];
}

/** What claiming an order decides on, read in one statement after the connection lock is held. */
export interface ClaimState {
  progress: { status: OrderRow['status']; attempts: number };
  intent: OrderRow['intent'];
  /** An earlier signal's order on this connection (or an earlier leg of this order's) not yet answered by the broker: it must go first. */
  earlierOpen: boolean;
  /** How the previous leg of this order ended (a reversal's close, before its open); null for a first leg. */
  priorLeg: { status: OrderRow['status']; reason: string | null } | null;
  switches: Switches;
  connection: ConnectionState | undefined;
}

/**
 * The latest earlier signal of the source (`s`) with the same ticker, action and sentiment received inside
 * the route's (`r`) duplicate window, that counts as an original: this route planned an order for it that was
 * not itself dropped as a duplicate, or it is not planned yet (it comes first, so it is the one that goes).
 */
const DUPLICATE_OF = `SELECT d.id FROM signals d
   WHERE d.workspace_id = s.workspace_id AND d.source_id = s.source_id AND d.seq < s.seq
     AND d.received_at >= s.received_at - make_interval(secs => greatest(r.duplicate_window_seconds, w.duplicate_window_seconds))
     AND d.payload->>'ticker' = s.payload->>'ticker' AND d.payload->>'action' = s.payload->>'action'
     AND d.payload->>'sentiment' IS NOT DISTINCT FROM s.payload->>'sentiment'
     AND (d.status IN ('received', 'queued')
          OR EXISTS (SELECT 1 FROM orders x WHERE x.signal_id = d.id AND x.route_id = r.id
                      AND NOT (x.status = 'blocked' AND coalesce(x.reason, '') LIKE '${DUPLICATE_CODE}:%')))
   ORDER BY d.seq DESC LIMIT 1`;

// The same fields as enabledRoutes and ORDER_COLUMNS, as JSON objects, so one statement can carry them.
const ROUTE_JSON = `json_build_object('id', r.id, 'connectionId', r.connection_id, 'sizingMode', r.sizing_mode, 'sizingValue', r.sizing_value::text,
  'symbolMap', r.symbol_map, 'allowedSymbols', NULLIF(r.allowed_symbols, '{}'), 'maxQuantity', r.max_quantity::text,
  'maxNotional', r.max_notional::text, 'maxOrdersPerMinute', r.max_orders_per_minute, 'positionMode', r.position_mode, 'entryWhenOpen', r.entry_when_open,
  'broker', c.broker, 'environment', c.environment, 'connectionStatus', c.status, 'credentialVersion', c.credential_version,
  'ordersLastMinute', CASE WHEN coalesce(r.max_orders_per_minute, w.max_orders_per_minute) IS NULL THEN 0 ELSE
    (SELECT count(*)::int FROM orders o WHERE o.route_id = r.id AND o.parent_order_id IS NULL AND o.status <> 'blocked' AND o.created_at > now() - interval '1 minute') END,
  'maxSignalAgeSeconds', r.max_signal_age_seconds, 'workspaceMaxSignalAgeSeconds', w.max_signal_age_seconds,
  'tradingWindows', r.trading_windows, 'blockExitsOutsideWindows', r.block_exits_outside_windows,
  'maxPosition', r.max_position::text, 'maxOpenPositions', r.max_open_positions,
  'lossLimited', EXISTS (SELECT 1 FROM connection_risk k WHERE k.connection_id = r.connection_id AND (k.daily_loss_limit IS NOT NULL OR k.max_drawdown IS NOT NULL)),
  'duplicateWindowSeconds', greatest(r.duplicate_window_seconds, w.duplicate_window_seconds),
  'workspaceLimits', json_build_object('maxQuantity', w.max_quantity::text, 'maxNotional', w.max_notional::text, 'maxOrdersPerMinute', w.max_orders_per_minute,
    'tradingWindows', w.trading_windows, 'blockExitsOutsideWindows', w.block_exits_outside_windows, 'maxPosition', w.max_position::text,
    'maxOpenPositions', w.max_open_positions),
  'approval', json_build_object('mode', r.approval, 'expirySeconds', r.approval_expiry_seconds),
  'workspaceApproval', json_build_object('mode', w.approval, 'expirySeconds', w.approval_expiry_seconds),
  'duplicateOf', CASE WHEN greatest(r.duplicate_window_seconds, w.duplicate_window_seconds) IS NULL THEN NULL ELSE (${DUPLICATE_OF}) END)`;
const ORDER_JSON = `json_build_object('id', o.id, 'routeId', o.route_id, 'connectionId', o.connection_id, 'broker', o.broker, 'clientOrderId', o.client_order_id,
  'signalSeq', o.signal_seq::text, 'leg', o.leg, 'intent', o.intent, 'positionRule', o.position_rule, 'symbol', o.symbol, 'side', o.side, 'orderType', o.order_type, 'quantity', o.quantity::text,
  'limitPrice', o.limit_price::text, 'stopPrice', o.stop_price::text, 'timeInForce', o.time_in_force, 'takeProfit', o.take_profit::text,
  'stopLoss', o.stop_loss::text, 'stopLossLimit', o.stop_loss_limit::text, 'trailPercent', o.trail_percent::text, 'trailAmount', o.trail_amount::text,
  'referencePrice', o.reference_price::text, 'status', o.status, 'reason', o.reason, 'attempts', o.attempts)`;

const INSERT_COLUMNS = `id, workspace_id, signal_id, route_id, connection_id, broker, client_order_id, signal_seq, leg, intent, position_rule, symbol, side,
  order_type, quantity, limit_price, stop_price, time_in_force, take_profit, stop_loss, stop_loss_limit, trail_percent, trail_amount, reference_price, status, reason, approval_expires_at`;

/** Appends one new order's values to `values` and returns its `($n, …)` tuple. */
function insertTuple(values: unknown[], workspaceId: string, signal: SignalRow, o: NewOrder): string {
  const p = o.plan;
  const row = [
    o.id,
    workspaceId,
    signal.id,
    o.routeId,
    o.connectionId,
    o.broker,
    o.clientOrderId,
    signal.seq,
    o.leg,
    p.intent,
    p.positionRule ?? null,
    p.symbol,
    p.side ?? null,
    p.type,
    p.quantity ?? null,
    p.limitPrice ?? null,
    p.stopPrice ?? null,
    p.timeInForce ?? null,
    p.takeProfit ?? null,
    p.stopLoss ?? null,
    p.stopLossLimit ?? null,
    p.trailPercent ?? null,
    p.trailAmount ?? null,
    p.referencePrice ?? null,
    o.status,
    o.reason ?? null,
    o.approvalExpiresAt ?? null,
  ];
  const start = values.length;
  values.push(...row);
  return `(${row.map((_, i) => `$${start + i + 1}`).join(', ')})`;
}

const SEALED_COLUMNS = `v.version, v.format_version AS "formatVersion", v.algorithm, v.kms_key_id AS "kmsKeyId", v.wrapped_key AS "wrappedKey",
  v.iv, v.tag, v.ciphertext`;

interface SealedRow extends SealedSecret {
  version: number;
}

/** A credential_versions row as SEALED_COLUMNS reads it. */
function sealedCredential(r: SealedRow | undefined): { version: number; sealed: SealedSecret } | undefined {
  if (!r) return undefined;
  return {
    version: r.version,
    sealed: {
      formatVersion: r.formatVersion,
      algorithm: r.algorithm,
      kmsKeyId: r.kmsKeyId,
      wrappedKey: r.wrappedKey,
      iv: r.iv,
      tag: r.tag,
      ciphertext: r.ciphertext,
    },
  };
}

/** The worker's queries, on raw pg inside TenantDb.runRaw transactions (the hot path). */
@Injectable()
export class RoutingRepository {
  /**
   * lockSignal, enabledRoutes and ordersOfSignal in one round trip. The routes and orders come from the
   * statement's snapshot: if it waited for the signal lock (another run of the same job planned meanwhile),
   * the orders that run inserted are not among them; inserting them again conflicts and the caller re-reads.
   */
  async planState(client: PoolClient, signalId: string): Promise<PlanState | undefined> {
    const { rows } = await client.query<SignalRow & { routes: RouteRow[]; orders: OrderRow[] }>({
      name: 'routing.plan_state',
      text: `SELECT s.id, s.seq::text, s.source_id AS "sourceId", s.status, s.payload, s.received_at AS "receivedAt",
              (SELECT coalesce(json_agg(${ROUTE_JSON} ORDER BY r.created_at, r.id), '[]')
                 FROM routes r JOIN broker_connections c ON c.id = r.connection_id JOIN workspaces w ON w.id = r.workspace_id
                WHERE r.source_id = s.source_id AND r.enabled AND r.deleted_at IS NULL) AS routes,
              (SELECT coalesce(json_agg(${ORDER_JSON} ORDER BY o.created_at, o.leg, o.id), '[]') FROM orders o WHERE o.signal_id = s.id AND o.parent_order_id IS NULL) AS orders
         FROM signals s WHERE s.id = $1 FOR UPDATE OF s`,
      values: [signalId],
    });
    const row = rows[0];
    if (!row) return undefined;
    const { routes, orders, ...signal } = row;
    return { signal, routes, orders };
  }

  /**
   * insertOrders, then the inserted orders as ordersOfSignal returns them, and the signal marked
   * 'routing' — one round trip. A conflict (the orders exist already) returns fewer rows than given.
   */
  async insertOrdersAndMarkRouting(client: PoolClient, workspaceId: string, signal: SignalRow, orders: NewOrder[]): Promise<OrderRow[]> {
    if (orders.length === 0) return [];
    const values: unknown[] = [signal.id];
    const tuples = orders.map((o) => insertTuple(values, workspaceId, signal, o));
    const { rows } = await client.query<OrderRow>({
      // One prepared statement per number of orders (at most the source's route count).
      name: `routing.insert_orders.${orders.length}`,
      text: `WITH inserted AS (
         INSERT INTO orders (${INSERT_COLUMNS}) VALUES ${tuples.join(', ')}
         ON CONFLICT (signal_id, route_id, leg) WHERE parent_order_id IS NULL DO NOTHING
         RETURNING *),
       marked AS (
         UPDATE signals SET status = 'routing', error = NULL, routing_started_at = COALESCE(routing_started_at, now()) WHERE id = $1),
       -- An order held for approval starts its lifecycle there: a real transition row (notifications read it).
       awaiting AS (
         INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status)
         SELECT workspace_id, id, NULL, status FROM inserted WHERE status = 'awaiting_approval')
       SELECT ${ORDER_COLUMNS} FROM inserted ORDER BY created_at, leg, id`,
      values,
    });
    return rows;
  }

  /** The order's progress, whether an earlier signal must go first on this connection, and the risk gate's inputs, in one round trip (the connection lock is held). */
  async claimState(client: PoolClient, order: Pick<OrderRow, 'id' | 'connectionId' | 'signalSeq'>): Promise<ClaimState> {
    const { rows } = await client.query({
      name: 'routing.claim_state',
      text: `SELECT o.status AS "orderStatus", o.attempts, o.intent, prior.status AS "priorStatus", prior.reason AS "priorReason",
              (EXISTS (SELECT 1 FROM orders e
                        WHERE e.connection_id = $2 AND e.signal_seq < $3 AND e.status IN ('pending', 'submitted'))
               OR prior.status IN ('pending', 'submitted')
               -- An earlier signal routed to this connection but not planned yet (its worker is slow or died) goes first too.
               OR EXISTS (SELECT 1 FROM routes r JOIN signals s ON s.source_id = r.source_id
                           WHERE r.connection_id = $2 AND r.enabled AND r.deleted_at IS NULL
                             AND s.seq < $3 AND s.status IN ('received', 'queued')
                             AND NOT EXISTS (SELECT 1 FROM orders x WHERE x.signal_id = s.id AND x.route_id = r.id))) AS "earlierOpen",
              p.kill_switch_engaged AS "platformKill", w.kill_switch_engaged AS "workspaceKill", w.live_trading_enabled AS "liveTradingEnabled",
              c.status, c.environment, c.credential_version AS "credentialVersion",
              coalesce(k.kill_switch_engaged, false) AS "connectionKill", k.kill_switch_reason AS "connectionKillReason",
              -- The connection's latest session (a change of its boundary starts a new one): its breach while it lasts.
              (SELECT CASE WHEN b.breached_at IS NOT NULL AND b.session_end > now() THEN b.breach_reason END FROM connection_loss_sessions b
                WHERE b.connection_id = $2 AND b.session_start <= now() ORDER BY b.session_start DESC LIMIT 1) AS "lossBreach"
         FROM platform_settings p
         CROSS JOIN workspaces w
         LEFT JOIN broker_connections c ON c.id = $2
         LEFT JOIN connection_risk k ON k.connection_id = $2
         LEFT JOIN orders o ON o.id = $1
         LEFT JOIN LATERAL (SELECT l.status, l.reason FROM orders l
                             WHERE l.signal_id = o.signal_id AND l.route_id = o.route_id AND l.leg < o.leg AND l.parent_order_id IS NULL
                             ORDER BY l.leg DESC LIMIT 1) prior ON true
        WHERE p.id = 1`,
      values: [order.id, order.connectionId, order.signalSeq],
    });
    const r = rows[0];
    if (!r?.orderStatus) throw new Error(`order ${order.id} not found while claiming it`);
    return {
      progress: { status: r.orderStatus, attempts: r.attempts },
      intent: r.intent,
      earlierOpen: r.earlierOpen,
      priorLeg: r.priorStatus ? { status: r.priorStatus, reason: r.priorReason } : null,
      switches: { platformKill: r.platformKill, workspaceKill: r.workspaceKill, liveTradingEnabled: r.liveTradingEnabled },
      connection: r.status
        ? {
            status: r.status,
            environment: r.environment,
            credentialVersion: r.credentialVersion,
            risk: { killSwitch: { engaged: r.connectionKill, reason: r.connectionKillReason }, lossBreach: r.lossBreach },
          }
        : undefined,
    };
  }

  /**
   * isActiveRoutingContext and currentSealedCredential in one round trip: the sealed credential of the
   * connection's current version, only if this order is, right now, submitted by this job to this active connection.
   */
  async sealedCredentialInContext(
    client: PoolClient,
    ctx: { orderId: string; jobId: string; connectionId: string },
  ): Promise<{ version: number; sealed: SealedSecret } | undefined> {
    const { rows } = await client.query<SealedRow>({
      name: 'routing.sealed_credential_in_context',
      text: `SELECT ${SEALED_COLUMNS}
         FROM orders o
         JOIN broker_connections c ON c.id = o.connection_id
         JOIN credential_versions v ON v.connection_id = c.id AND v.version = c.credential_version
        WHERE o.id = $1 AND o.routing_job_id = $2 AND o.connection_id = $3 AND o.status = 'submitted' AND c.status = 'active'`,
      values: [ctx.orderId, ctx.jobId, ctx.connectionId],
    });
    return sealedCredential(rows[0]);
  }

  /**
   * The sealed credential for following an order at its broker: only while the order is still working there
   * (accepted or partially filled) and its connection is active.
   */
  async sealedCredentialForSync(
    client: PoolClient,
    ctx: { orderId: string; connectionId: string },
  ): Promise<{ version: number; sealed: SealedSecret } | undefined> {
    const { rows } = await client.query<SealedRow>({
      name: 'routing.sealed_credential_for_sync',
      text: `SELECT ${SEALED_COLUMNS}
         FROM orders o
         JOIN broker_connections c ON c.id = o.connection_id
         JOIN credential_versions v ON v.connection_id = c.id AND v.version = c.credential_version
        WHERE o.id = $1 AND o.connection_id = $2 AND o.status IN ('accepted', 'partially_filled') AND c.status = 'active'`,
      values: [ctx.orderId, ctx.connectionId],
    });
    return sealedCredential(rows[0]);
  }

  /**
   * The sealed credential for a connection-wide job: a snapshot request still unanswered, or a flatten of this
   * connection still unfinished; the connection active either way.
   */
  async sealedCredentialForTask(
    client: PoolClient,
    ctx: { connectionId: string; purpose: 'snapshot' | 'flatten'; taskId: string },
  ): Promise<{ version: number; sealed: SealedSecret } | undefined> {
    const pending =
      ctx.purpose === 'snapshot'
        ? `EXISTS (SELECT 1 FROM connection_snapshots s WHERE s.connection_id = c.id AND s.request_id = $2 AND s.answered_request_id IS DISTINCT FROM $2)`
        : `EXISTS (SELECT 1 FROM flatten_connections f WHERE f.connection_id = c.id AND f.flatten_id = $2 AND f.status IN ('pending', 'running'))`;
    const { rows } = await client.query<SealedRow>({
      name: `routing.sealed_credential_for_${ctx.purpose}`,
      text: `SELECT ${SEALED_COLUMNS}
         FROM broker_connections c
         JOIN credential_versions v ON v.connection_id = c.id AND v.version = c.credential_version
        WHERE c.id = $1 AND c.status = 'active' AND ${pending}`,
      values: [ctx.connectionId, ctx.taskId],
    });
    return sealedCredential(rows[0]);
  }

  async ordersOfSignal(client: PoolClient, signalId: string): Promise<OrderRow[]> {
    const { rows } = await client.query<OrderRow>({
      name: 'routing.orders_of_signal',
      text: `SELECT ${ORDER_COLUMNS} FROM orders WHERE signal_id = $1 AND parent_order_id IS NULL ORDER BY created_at, leg, id`,
      values: [signalId],
    });
    return rows;
  }

  /** Fails the signal's orders still pending or submitted; returns them as they were before. */
  async failOpenOrders(client: PoolClient, signalId: string, reasons: { pending: string; submitted: string }): Promise<OrderRow[]> {
    const { rows } = await client.query<OrderRow>(
      `WITH open AS (SELECT ${ORDER_COLUMNS} FROM orders WHERE signal_id = $1 AND status IN ('pending', 'submitted') FOR UPDATE),
       failed AS (
         UPDATE orders o SET status = 'failed', reason = CASE WHEN o.status = 'submitted' THEN $3 ELSE $2 END, updated_at = clock_timestamp()
           FROM open WHERE o.id = open.id)
       SELECT * FROM open`,
      [signalId, reasons.pending, reasons.submitted],
    );
    return rows;
  }

  async markSignal(client: PoolClient, signalId: string, status: string, error: string | null = null): Promise<void> {
    const terminal = !['routing'].includes(status);
    await client.query({
      name: 'routing.mark_signal',
      text: `UPDATE signals SET status = $2, error = $3,
         routing_started_at = COALESCE(routing_started_at, now()),
         completed_at = CASE WHEN $4 THEN now() ELSE completed_at END
       WHERE id = $1`,
      values: [signalId, status, error, terminal],
    });
  }

  /**
   * Serialises one connection's orders across every worker for the rest of this transaction. With
   * `savepoint`, sets that savepoint first, in the same round trip (the id is checked to be a UUID:
   * a statement with a savepoint takes no parameters).
   */
  async lockConnection(client: PoolClient, connectionId: string, savepoint?: string): Promise<void> {
    if (!savepoint) {
      await client.query({ name: 'routing.lock_connection', text: 'SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))', values: [connectionId] });
      return;
    }
    if (!UUID.test(connectionId) || !/^[a-z_]+$/.test(savepoint)) throw new Error('lockConnection: connection id must be a UUID');
    await client.query(`SAVEPOINT ${savepoint}; SELECT pg_advisory_xact_lock(hashtextextended('${connectionId}'::text, 7))`);
  }

  /**
   * The connection's book for position limits (see ConnectionBook): the snapshot counts only while younger
   * than `snapshotMaxAgeMs` and fetched after the last order or flatten close was sent, else the fills do.
   * `excluded`: orders being checked themselves (approved ones), not counted as working.
   */
  async connectionBook(client: PoolClient, connectionId: string, snapshotMaxAgeMs: number, excluded: string[] = []): Promise<ConnectionBook> {
    const { rows } = await client.query<{ fills: Record<string, string>; snapshot: { symbol: string; quantity: string }[] | null; working: WorkingEntry[] }>({
      name: 'routing.connection_book',
      text: `WITH fills AS (
         SELECT o.symbol, CASE WHEN o.side = 'buy' THEN f.quantity ELSE -f.quantity END AS q
           FROM orders o JOIN order_fills f ON f.order_id = o.id WHERE o.connection_id = $1 AND o.side IS NOT NULL
         UNION ALL
         SELECT symbol, CASE WHEN side = 'buy' THEN filled_quantity ELSE -filled_quantity END FROM flatten_orders
          WHERE connection_id = $1 AND filled_quantity > 0)
       SELECT (SELECT coalesce(json_object_agg(symbol, q), '{}') FROM (SELECT symbol, sum(q)::text AS q FROM fills GROUP BY symbol HAVING sum(q) <> 0) p) AS fills,
              (SELECT s.positions FROM connection_snapshots s
                WHERE s.connection_id = $1 AND s.positions IS NOT NULL AND s.fetched_at > clock_timestamp() - make_interval(secs => $2::int / 1000.0)
                  AND s.fetched_at > coalesce((SELECT max(o.sent_at) FROM orders o WHERE o.connection_id = $1), '-infinity')
                  AND s.fetched_at > coalesce((SELECT max(x.created_at) FROM flatten_orders x WHERE x.connection_id = $1), '-infinity')) AS snapshot,
              (SELECT coalesce(json_agg(json_build_object('symbol', o.symbol, 'side', o.side, 'remaining', (o.quantity - coalesce(o.filled_quantity, 0))::text)), '[]')
                 FROM orders o WHERE o.connection_id = $1 AND o.intent = 'entry' AND o.side IS NOT NULL AND o.quantity IS NOT NULL
                  AND o.status IN ('awaiting_approval', 'pending', 'submitted', 'accepted', 'partially_filled') AND o.id <> ALL($3::uuid[])) AS working`,
      values: [connectionId, snapshotMaxAgeMs, excluded],
    });
    const { fills, snapshot, working } = rows[0];
    const entries: [string, string][] = snapshot ? snapshot.map((p) => [p.symbol, p.quantity]) : Object.entries(fills);
    const positions = new Map(entries.filter(([, q]) => SIGNED_DECIMAL.test(q)).map(([symbol, q]) => [symbol, parseDecimal(q)]));
    return { source: snapshot ? 'snapshot' : 'fills', positions, working };
  }

  async markSubmitted(client: PoolClient, orderId: string, jobId: string): Promise<void> {
    await client.query({
      name: 'routing.mark_submitted',
      text: `UPDATE orders SET status = 'submitted', routing_job_id = $2, attempts = attempts + 1, sent_at = clock_timestamp(), updated_at = clock_timestamp()
        WHERE id = $1`,
      values: [orderId, jobId],
    });
  }

  /**
   * Records the order's outcome, its transition from the status it had, and (when the answer says something
   * filled) the fill that took it there; an order left working at the broker is scheduled for OrderSync.
   */
  async finishOrder(
    client: PoolClient,
    orderId: string,
    outcome: {
      status: OrderRow['status'];
      reason?: string;
      brokerOrderId?: string;
      filledQuantity?: string;
      averagePrice?: string;
      quantity?: string;
      side?: 'buy' | 'sell';
      /** The contract the broker holds the order in, where it resolved an option selection rule. */
      symbol?: string;
    },
  ): Promise<void> {
    const filled = outcome.filledQuantity && outcome.averagePrice && isPositiveDecimal(outcome.filledQuantity) ? outcome.filledQuantity : null;
    await client.query({
      name: 'routing.finish_order',
      text: `WITH prev AS (SELECT status FROM orders WHERE id = $1),
       updated AS (
         UPDATE orders SET status = $2, reason = $3, broker_order_id = COALESCE($4, broker_order_id), filled_quantity = $5, average_price = $6,
           quantity = COALESCE($7, quantity), side = COALESCE(side, $10), symbol = COALESCE($11, symbol),
           acknowledged_at = CASE WHEN $2 IN ('accepted', 'partially_filled', 'filled', 'canceled', 'expired', 'rejected') THEN clock_timestamp() ELSE acknowledged_at END,
           next_sync_at = CASE WHEN $2 IN ('accepted', 'partially_filled') AND intent <> 'cancel' THEN clock_timestamp() END,
           updated_at = clock_timestamp()
         WHERE id = $1
         RETURNING id, workspace_id, status),
       transition AS (
         INSERT INTO order_transitions (workspace_id, order_id, from_status, to_status)
         SELECT u.workspace_id, u.id, prev.status, u.status FROM updated u, prev WHERE prev.status IS DISTINCT FROM u.status)
       INSERT INTO order_fills (workspace_id, order_id, broker_fill_id, quantity, price, filled_at)
       SELECT u.workspace_id, u.id, $8, $9, $6, clock_timestamp() FROM updated u WHERE $8::text IS NOT NULL
       ON CONFLICT (order_id, broker_fill_id) DO NOTHING`,
      values: [
        orderId,
        outcome.status,
        outcome.reason ?? null,
        outcome.brokerOrderId ?? null,
        outcome.filledQuantity ?? null,
        outcome.averagePrice ?? null,
        outcome.quantity ?? null,
        filled ? cumulativeFillId(filled) : null,
        filled,
        outcome.side ?? null,
        outcome.symbol ?? null,
      ],
    });
  }
}
