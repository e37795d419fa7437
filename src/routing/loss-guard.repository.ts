import { Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { PnlFill } from '../orders/realized-pnl';
import type { LossInputs, LossSettings } from './risk/loss-limits';

/** A session's row as the guard reads it back after recording the P&L. */
export interface LossSessionRow {
  peak: string;
  breachedAt: Date | null;
  breachReason: string | null;
  breachLimit: 'dailyLossLimit' | 'maxDrawdown' | null;
}

/** The worker's queries for loss limits: the settings, the P&L's inputs, the session row and the kill switch. */
@Injectable()
export class LossGuardRepository {
  /** The connection's loss settings, when it sets a limit. */
  async settings(client: PoolClient, connectionId: string): Promise<LossSettings | undefined> {
    const { rows } = await client.query<LossSettings>({
      name: 'loss.settings',
      text: `SELECT daily_loss_limit::text AS "dailyLossLimit", max_drawdown::text AS "maxDrawdown", loss_action AS action,
                    session_start AS "sessionStart", session_timezone AS "sessionTimezone"
               FROM connection_risk WHERE connection_id = $1 AND (daily_loss_limit IS NOT NULL OR max_drawdown IS NOT NULL)`,
      values: [connectionId],
    });
    return rows[0];
  }

  /** Every fill of the connection (orders with a side, and flatten closes), a fresh snapshot's positions, the latest quotes. */
  async inputs(client: PoolClient, connectionId: string, snapshotMaxAgeMs: number): Promise<LossInputs> {
    const { rows } = await client.query<{
      fills: (Omit<PnlFill, 'at'> & { at: string })[];
      snapshot: LossInputs['snapshot'];
      quotes: Record<string, { price: string; at: string }>;
    }>({
      name: 'loss.inputs',
      text: `SELECT
        (SELECT coalesce(json_agg(json_build_object('symbol', f.symbol, 'side', f.side, 'quantity', f.quantity, 'price', f.price, 'fee', f.fee, 'at', f.at) ORDER BY f.at, f.id), '[]')
           FROM (SELECT o.symbol, o.side, x.quantity::text AS quantity, x.price::text AS price, x.fee::text AS fee, x.filled_at AS at, x.id::text AS id
                   FROM orders o JOIN order_fills x ON x.order_id = o.id WHERE o.connection_id = $1 AND o.side IS NOT NULL
                 UNION ALL
                 SELECT symbol, side, filled_quantity::text, average_price::text, NULL, updated_at, id::text FROM flatten_orders
                  WHERE connection_id = $1 AND filled_quantity > 0 AND average_price IS NOT NULL) f) AS fills,
        (SELECT s.positions FROM connection_snapshots s
          WHERE s.connection_id = $1 AND s.positions IS NOT NULL AND s.fetched_at > clock_timestamp() - make_interval(secs => $2::int / 1000.0)) AS snapshot,
        (SELECT coalesce(json_object_agg(q.symbol, json_build_object('price', q.price::text, 'at', q.quoted_at)), '{}')
           FROM (SELECT DISTINCT ON (symbol) symbol, price, quoted_at FROM paper_quotes WHERE connection_id = $1 ORDER BY symbol, quoted_at DESC, id DESC) q) AS quotes`,
      values: [connectionId, snapshotMaxAgeMs],
    });
    const { fills, snapshot, quotes } = rows[0];
    return {
      fills: fills.map((f) => ({ ...f, at: new Date(f.at) })),
      snapshot,
      quotes: Object.fromEntries(Object.entries(quotes).map(([symbol, q]) => [symbol, { price: q.price, at: new Date(q.at) }])),
    };
  }

  /**
   * Records the session's P&L and raises its high-water mark (never below 0), creating the session's row on its
   * first look; returns the row, locked until the transaction ends, so concurrent looks at one session queue here.
   */
  async recordSession(
    client: PoolClient,
    workspaceId: string,
    connectionId: string,
    session: { start: Date; end: Date },
    total: string,
  ): Promise<LossSessionRow> {
    const { rows } = await client.query<LossSessionRow>({
      name: 'loss.record_session',
      text: `INSERT INTO connection_loss_sessions AS s (workspace_id, connection_id, session_start, session_end, peak_pnl, last_pnl)
             VALUES ($1, $2, $3, $4, greatest($5::numeric, 0), $5::numeric)
             ON CONFLICT (connection_id, session_start) DO UPDATE SET peak_pnl = greatest(s.peak_pnl, EXCLUDED.peak_pnl), last_pnl = EXCLUDED.last_pnl, updated_at = clock_timestamp()
             RETURNING peak_pnl::text AS peak, breached_at AS "breachedAt", breach_reason AS "breachReason", breach_limit AS "breachLimit"`,
      values: [workspaceId, connectionId, session.start, session.end, total],
    });
    return rows[0];
  }

  /** Records the session's breach unless one is recorded already: true for the one caller that recorded it. */
  async recordBreach(
    client: PoolClient,
    connectionId: string,
    sessionStart: Date,
    breach: { limit: string; reason: string; flattenId: string | null },
  ): Promise<boolean> {
    const { rowCount } = await client.query({
      name: 'loss.record_breach',
      text: `UPDATE connection_loss_sessions SET breached_at = clock_timestamp(), breach_limit = $3, breach_reason = $4, flatten_id = $5, updated_at = clock_timestamp()
              WHERE connection_id = $1 AND session_start = $2 AND breached_at IS NULL`,
      values: [connectionId, sessionStart, breach.limit, breach.reason.slice(0, 1000), breach.flattenId],
    });
    return rowCount === 1;
  }

  async engageKillSwitch(client: PoolClient, connectionId: string, reason: string, by: string): Promise<void> {
    await client.query({
      name: 'loss.engage_kill_switch',
      text: `UPDATE connection_risk SET kill_switch_engaged = true, kill_switch_reason = $2, kill_switch_by = $3, kill_switch_changed_at = clock_timestamp(), updated_at = clock_timestamp()
              WHERE connection_id = $1`,
      values: [connectionId, reason.slice(0, 500), by.slice(0, 200)],
    });
  }

  /** Across workspaces, through the SECURITY DEFINER scan `loss_quotes_due` only: loss-limited connections with a quote not looked at yet. */
  // The quote time as text: microseconds, which a Date would round off (and the quote would look new again).
  async quotesDue(pool: Pool, limit: number): Promise<{ workspaceId: string; connectionId: string; quotedAt: string }[]> {
    const { rows } = await pool.query<{ workspaceId: string; connectionId: string; quotedAt: string }>(
      `SELECT workspace_id::text AS "workspaceId", connection_id::text AS "connectionId", quoted_at::text AS "quotedAt" FROM loss_quotes_due($1)`,
      [limit],
    );
    return rows;
  }

  /** The quotes up to `quotedAt` were looked at (never moves back). */
  async markQuotesChecked(client: PoolClient, connectionId: string, quotedAt: string): Promise<void> {
    await client.query(`UPDATE connection_risk SET quotes_checked_at = greatest(quotes_checked_at, $2::timestamptz) WHERE connection_id = $1`, [
      connectionId,
      quotedAt,
    ]);
  }
}
