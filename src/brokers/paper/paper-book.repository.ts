import type { PoolClient } from 'pg';
import type { BracketRole, OrderRequest, OrderType } from '../broker-adapter';

export interface PaperOrderRow {
  id: string;
  client_order_id: string;
  side: 'buy' | 'sell';
  order_type: OrderType;
  status: 'accepted' | 'filled' | 'canceled';
  quantity: string;
  limit_price: string | null;
  stop_price: string | null;
  fill_price: string | null;
  created_at: Date;
  filled_at: Date | null;
  bracket_role: BracketRole | null;
}

/** A resting order as a fill round looks at it. */
export interface RestingPaperOrder {
  id: string;
  symbol: string;
  side: 'buy' | 'sell';
  order_type: string;
  quantity: string;
  limit_price: string | null;
  stop_price: string | null;
  created_at: Date;
  parent_id: string | null;
  has_legs: boolean;
}

export interface PaperQuote {
  symbol: string;
  price: string;
  quoted_at: Date;
}

export interface PaperFill {
  symbol: string;
  side: 'buy' | 'sell';
  quantity: string;
  price: string;
}

const ROW_COLUMNS = `id, client_order_id, side, order_type, status, quantity::text, limit_price::text, stop_price::text, fill_price::text, created_at, filled_at, bracket_role`;

/** The paper broker's book (paper_orders, paper_positions, paper_quotes): every query, each on the caller's tenant transaction. */
export const paperBook = {
  async addQuote(client: PoolClient, workspaceId: string, connectionId: string, symbol: string, price: string): Promise<void> {
    await client.query('INSERT INTO paper_quotes (workspace_id, connection_id, symbol, price) VALUES ($1, $2, $3, $4)', [
      workspaceId,
      connectionId,
      symbol,
      price,
    ]);
  },

  /** The order once (by client order id): undefined when it was there already. */
  async insertOrder(client: PoolClient, workspaceId: string, order: OrderRequest, fillPrice: string | undefined): Promise<PaperOrderRow | undefined> {
    const { rows } = await client.query<PaperOrderRow>(
      `INSERT INTO paper_orders (id, workspace_id, connection_id, client_order_id, symbol, side, order_type, quantity, limit_price, stop_price, status, fill_price,
                                 take_profit, stop_loss, stop_loss_limit)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (connection_id, client_order_id) DO NOTHING
       RETURNING ${ROW_COLUMNS}`,
      [
        workspaceId,
        order.connectionId,
        order.clientOrderId,
        order.symbol,
        order.side,
        order.type,
        order.quantity,
        order.limitPrice ?? null,
        order.stopPrice ?? null,
        fillPrice ? 'filled' : 'accepted',
        fillPrice ?? null,
        order.takeProfit ?? null,
        order.stopLoss ?? null,
        order.stopLossLimit ?? null,
      ],
    );
    return rows[0];
  },

  async findOrder(client: PoolClient, connectionId: string, clientOrderId: string): Promise<PaperOrderRow | undefined> {
    const { rows } = await client.query<PaperOrderRow>(`SELECT ${ROW_COLUMNS} FROM paper_orders WHERE connection_id = $1 AND client_order_id = $2`, [
      connectionId,
      clientOrderId,
    ]);
    return rows[0];
  },

  /** An entry's legs, take-profit first. */
  async legsOf(client: PoolClient, entryId: string): Promise<PaperOrderRow[]> {
    const { rows } = await client.query<PaperOrderRow>(`SELECT ${ROW_COLUMNS} FROM paper_orders WHERE parent_id = $1 ORDER BY bracket_role DESC`, [entryId]);
    return rows;
  },

  async position(client: PoolClient, connectionId: string, symbol: string): Promise<string | undefined> {
    const { rows } = await client.query<{ quantity: string }>('SELECT quantity::text FROM paper_positions WHERE connection_id = $1 AND symbol = $2', [
      connectionId,
      symbol,
    ]);
    return rows[0]?.quantity;
  },

  async addPosition(client: PoolClient, workspaceId: string, connectionId: string, symbol: string, side: 'buy' | 'sell', quantity: string): Promise<void> {
    await client.query(
      `INSERT INTO paper_positions (workspace_id, connection_id, symbol, quantity) VALUES ($1, $2, $3, $4)
       ON CONFLICT (connection_id, symbol) DO UPDATE SET quantity = paper_positions.quantity + EXCLUDED.quantity`,
      [workspaceId, connectionId, symbol, side === 'buy' ? quantity : `-${quantity}`],
    );
  },

  /** Cancels the connection's resting orders of one symbol; how many. */
  async cancelResting(client: PoolClient, connectionId: string, symbol: string): Promise<number> {
    const { rowCount } = await client.query(`UPDATE paper_orders SET status = 'canceled' WHERE connection_id = $1 AND symbol = $2 AND status = 'accepted'`, [
      connectionId,
      symbol,
    ]);
    return rowCount ?? 0;
  },

  /** The connection's fills in the order they happened. */
  async fills(client: PoolClient, connectionId: string): Promise<PaperFill[]> {
    const { rows } = await client.query<PaperFill>(
      `SELECT symbol, side, quantity::text, fill_price::text AS price FROM paper_orders
        WHERE connection_id = $1 AND status = 'filled' ORDER BY coalesce(filled_at, created_at), id`,
      [connectionId],
    );
    return rows;
  },

  /** Resting orders (of one symbol, or all), oldest first, locked so two looks at once cannot fill one twice. */
  async lockResting(client: PoolClient, connectionId: string, symbol?: string): Promise<RestingPaperOrder[]> {
    const { rows } = await client.query<RestingPaperOrder>(
      `SELECT id, symbol, side, order_type, quantity::text, limit_price::text, stop_price::text, created_at, parent_id,
              (take_profit IS NOT NULL OR stop_loss IS NOT NULL) AS has_legs FROM paper_orders
        WHERE connection_id = $1 AND status = 'accepted' AND ($2::text IS NULL OR symbol = $2) ORDER BY created_at, id FOR UPDATE`,
      [connectionId, symbol ?? null],
    );
    return rows;
  },

  /** Prices quoted after `after`, in time order. */
  async quotesAfter(client: PoolClient, connectionId: string, symbol: string | undefined, after: Date): Promise<PaperQuote[]> {
    const { rows } = await client.query<PaperQuote>(
      `SELECT symbol, price::text, quoted_at FROM paper_quotes WHERE connection_id = $1 AND ($2::text IS NULL OR symbol = $2) AND quoted_at > $3 ORDER BY quoted_at, id`,
      [connectionId, symbol ?? null, after],
    );
    return rows;
  },

  async markFilled(client: PoolClient, orderId: string, price: string, at: Date): Promise<void> {
    await client.query(`UPDATE paper_orders SET status = 'filled', fill_price = $2, filled_at = $3 WHERE id = $1`, [orderId, price, at]);
  },

  /** One-cancels-other: the filled leg's resting siblings. */
  async cancelSiblings(client: PoolClient, parentId: string, filledLegId: string): Promise<void> {
    await client.query(`UPDATE paper_orders SET status = 'canceled' WHERE parent_id = $1 AND id <> $2 AND status = 'accepted'`, [parentId, filledLegId]);
  },

  /** Forgets the prices no resting order needs, keeping each symbol's latest. */
  async forgetQuotes(client: PoolClient, connectionId: string, symbol?: string): Promise<void> {
    await client.query(
      `DELETE FROM paper_quotes q WHERE q.connection_id = $1 AND ($2::text IS NULL OR q.symbol = $2)
          AND q.quoted_at < coalesce((SELECT min(o.created_at) FROM paper_orders o WHERE o.connection_id = q.connection_id AND o.symbol = q.symbol AND o.status = 'accepted'), 'infinity')
          AND q.quoted_at < (SELECT max(l.quoted_at) FROM paper_quotes l WHERE l.connection_id = q.connection_id AND l.symbol = q.symbol)`,
      [connectionId, symbol ?? null],
    );
  },

  /**
   * The filled entry's take-profit (limit) and stop-loss (stop, or stop-limit) on the other side, resting from just
   * after its fill (`filledAt`; now when null), so the price that filled the entry does not also fill a leg.
   */
  async openLegs(client: PoolClient, entryId: string, filledAt: Date | null): Promise<void> {
    await client.query(
      `INSERT INTO paper_orders (id, workspace_id, connection_id, client_order_id, symbol, side, order_type, quantity, limit_price, stop_price, status, parent_id, bracket_role, created_at)
       SELECT gen_random_uuid(), p.workspace_id, p.connection_id, p.client_order_id || l.suffix, p.symbol, CASE p.side WHEN 'buy' THEN 'sell' ELSE 'buy' END,
              l.order_type, p.quantity, l.limit_price, l.stop_price, 'accepted', p.id, l.role,
              date_trunc('milliseconds', coalesce($2::timestamptz, clock_timestamp())) + interval '1 millisecond'
         FROM paper_orders p
        CROSS JOIN LATERAL (VALUES ('-tp', 'take_profit', 'limit', p.take_profit, NULL::numeric),
                                   ('-sl', 'stop_loss', CASE WHEN p.stop_loss_limit IS NULL THEN 'stop' ELSE 'stop_limit' END, p.stop_loss_limit, p.stop_loss))
              AS l(suffix, role, order_type, limit_price, stop_price)
        WHERE p.id = $1 AND CASE l.role WHEN 'take_profit' THEN p.take_profit IS NOT NULL ELSE p.stop_loss IS NOT NULL END
       ON CONFLICT (connection_id, client_order_id) DO NOTHING`,
      [entryId, filledAt],
    );
  },
};
