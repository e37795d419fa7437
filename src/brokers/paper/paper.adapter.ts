import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { TenantDb } from '../../database/tenant-db';
import type {
  AccountSummary,
  BracketRole,
  BrokerAdapter,
  BrokerCredentials,
  BrokerEnvironment,
  BrokerLeg,
  BrokerOrderState,
  HeldPosition,
  OrderAck,
  OrderLookup,
  OrderRequest,
  OrderType,
  PermissionReport,
  Position,
} from '../broker-adapter';
import { BrokerError } from '../broker-error';
import { crossingFill } from './paper-crossing';

/** Paper accounts start with this much simulated cash; deterministic so sizing tests are exact. */
export const PAPER_EQUITY = '100000';

/**
 * The sealed "credentials" of a paper connection: set by the server at onboarding, never by the user,
 * so the simulator knows which tenant's book to use when the worker opens it like any other credential.
 */
const paperCredentials = z.object({ workspaceId: z.uuid() });

interface PaperOrderRow {
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

const ROW_COLUMNS = `id, client_order_id, side, order_type, status, quantity::text, limit_price::text, stop_price::text, fill_price::text, created_at, filled_at, bracket_role`;

/**
 * The built-in paper broker: a deterministic simulator. Market orders fill at the signal's price,
 * marketable limits fill at the signal's price, everything else rests until a later price crosses it (the
 * price of a later signal routed to the connection, or one posted to POST /v1/connections/:id/paper/quotes);
 * positions are tracked per connection. An entry's take-profit and stop-loss rest as orders of their own once it
 * filled (client order ids `<entry>-tp`, `-sl`); the first a price crosses fills, and the other is canceled.
 */
export class PaperAdapter implements BrokerAdapter {
  readonly broker = 'paper' as const;
  readonly credentialsSchema = z.record(z.string(), z.string());

  constructor(private readonly db: TenantDb) {}

  async inspect(): Promise<PermissionReport> {
    return {
      inspection: 'trading_only',
      canTrade: true,
      canWithdraw: false,
      canTransfer: false,
      note: 'Simulated paper account: no real money, nothing can leave it.',
      details: {},
      keyHint: 'paper',
    };
  }

  async placeOrder(credentials: BrokerCredentials, order: OrderRequest): Promise<OrderAck> {
    const { workspaceId } = this.account(credentials);
    if (order.trailPercent !== undefined || order.trailAmount !== undefined) {
      throw new BrokerError('unsupported_order_type', 'paper', 'the paper broker simulates stop and stop-limit stop-losses, not trailing stops');
    }
    const fillPrice = this.fillPrice(order);
    return this.db.runRaw(workspaceId, async (client) => {
      // The signal's price is the symbol's latest price: it may fill orders resting since before it.
      if (order.referencePrice) {
        await client.query('INSERT INTO paper_quotes (workspace_id, connection_id, symbol, price) VALUES ($1, $2, $3, $4)', [
          workspaceId,
          order.connectionId,
          order.symbol,
          order.referencePrice,
        ]);
        await this.fillCrossed(client, workspaceId, order.connectionId, order.symbol);
      }
      const inserted = await client.query<PaperOrderRow>(
        `INSERT INTO paper_orders (id, workspace_id, connection_id, client_order_id, symbol, side, order_type, quantity, limit_price, stop_price, status, fill_price,
                                   take_profit, stop_loss, stop_loss_limit)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (connection_id, client_order_id) DO NOTHING
         RETURNING ${ROW_COLUMNS}`,
        [
          randomUUID(),
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
      const row = inserted.rows[0] ?? (await this.findRow(client, order.connectionId, order.clientOrderId))!;
      if (inserted.rowCount !== 0 && fillPrice) {
        await this.addPosition(client, workspaceId, order.connectionId, order.symbol, order.side, order.quantity);
        await this.openLegs(client, row.id, null);
      }
      return toAck(row, await this.legsOf(client, row.id));
    });
  }

  async findOrder(credentials: BrokerCredentials, order: Pick<OrderRequest, 'clientOrderId' | 'connectionId'>): Promise<OrderAck | null> {
    const { workspaceId } = this.account(credentials);
    return this.db.runRaw(workspaceId, async (client) => {
      const row = await this.findRow(client, order.connectionId, order.clientOrderId);
      return row ? toAck(row, await this.legsOf(client, row.id)) : null;
    });
  }

  /** A paper order fills whole, once: its one fill carries the order's id. An entry's answer lists its legs. */
  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const { workspaceId } = this.account(credentials);
    return this.db.runRaw(workspaceId, async (client) => {
      await this.fillCrossed(client, workspaceId, order.connectionId, order.symbol);
      const row = await this.findRow(client, order.connectionId, order.clientOrderId);
      if (!row) return null;
      const legs = await this.legsOf(client, row.id);
      return { ...stateOf(row), ...(legs.length > 0 && { legs }) };
    });
  }

  async getPosition(credentials: BrokerCredentials, symbol: string, _env: BrokerEnvironment, connectionId: string): Promise<Position> {
    const { workspaceId } = this.account(credentials);
    const { rows } = await this.db.runRaw(workspaceId, (client) =>
      client.query<{ quantity: string }>('SELECT quantity::text FROM paper_positions WHERE connection_id = $1 AND symbol = $2', [connectionId, symbol]),
    );
    return { symbol, quantity: normalize(rows[0]?.quantity ?? '0') };
  }

  async cancelOpenOrders(credentials: BrokerCredentials, symbol: string, _env: BrokerEnvironment, connectionId: string): Promise<number> {
    const { workspaceId } = this.account(credentials);
    // An order a price crossed before the cancel arrived has filled: it is not canceled.
    const result = await this.db.runRaw(workspaceId, async (client) => {
      await this.fillCrossed(client, workspaceId, connectionId, symbol);
      return client.query(`UPDATE paper_orders SET status = 'canceled' WHERE connection_id = $1 AND symbol = $2 AND status = 'accepted'`, [
        connectionId,
        symbol,
      ]);
    });
    return result.rowCount ?? 0;
  }

  /** The book's open positions, each averaged (cost basis) over the fills that built it. */
  async getPositions(credentials: BrokerCredentials, _env: BrokerEnvironment, connectionId: string): Promise<HeldPosition[]> {
    return (await this.book(credentials, connectionId)).positions;
  }

  /** Cash is the starting equity less what the fills cost; equity values the open positions at their cost. */
  async getAccount(credentials: BrokerCredentials, _env: BrokerEnvironment, connectionId: string): Promise<AccountSummary> {
    const { cash, positions } = await this.book(credentials, connectionId);
    const equity = positions.reduce((sum, p) => sum + Number(p.quantity) * Number(p.averagePrice), Number(cash));
    return { currency: 'USD', equity: money(equity), cash, buyingPower: cash };
  }

  async getEquity(): Promise<string> {
    return PAPER_EQUITY;
  }

  /** Replays the connection's fills in order: average cost per symbol, and the cash they moved. */
  private async book(credentials: BrokerCredentials, connectionId: string): Promise<{ cash: string; positions: HeldPosition[] }> {
    const { workspaceId } = this.account(credentials);
    const { rows } = await this.db.runRaw(workspaceId, async (client) => {
      await this.fillCrossed(client, workspaceId, connectionId);
      return client.query<{ symbol: string; side: 'buy' | 'sell'; quantity: string; price: string }>(
        `SELECT symbol, side, quantity::text, fill_price::text AS price FROM paper_orders
          WHERE connection_id = $1 AND status = 'filled' ORDER BY coalesce(filled_at, created_at), id`,
        [connectionId],
      );
    });
    let cash = Number(PAPER_EQUITY);
    const held = new Map<string, { quantity: number; average: number }>();
    for (const fill of rows) {
      const signed = Number(fill.quantity) * (fill.side === 'buy' ? 1 : -1);
      const price = Number(fill.price);
      cash -= signed * price;
      const p = held.get(fill.symbol) ?? { quantity: 0, average: 0 };
      const next = p.quantity + signed;
      // Adding to a side averages the price in; reducing keeps it; crossing zero starts again at this fill's price.
      if (p.quantity === 0 || Math.sign(p.quantity) === Math.sign(signed)) p.average = (p.quantity * p.average + signed * price) / next;
      else if (next !== 0 && Math.sign(next) !== Math.sign(p.quantity)) p.average = price;
      p.quantity = next;
      held.set(fill.symbol, p);
    }
    const positions = [...held]
      .filter(([, p]) => p.quantity !== 0)
      .map(([symbol, p]) => ({ symbol, quantity: money(p.quantity), averagePrice: money(p.average) }));
    return { cash: money(cash), positions };
  }

  async revokeKey(): Promise<boolean> {
    return true; // nothing exists outside Switchyard to revoke
  }

  private account(credentials: BrokerCredentials): { workspaceId: string } {
    const parsed = paperCredentials.safeParse(credentials);
    if (!parsed.success) throw new BrokerError('credentials_invalid', 'paper', 'paper connection has no account binding');
    return parsed.data;
  }

  private fillPrice(order: OrderRequest): string | undefined {
    const ref = order.referencePrice;
    if (order.type === 'market') {
      if (!ref) throw new BrokerError('rejected', 'paper', 'the paper broker fills market orders at the signal price; the signal has no price');
      return ref;
    }
    if (order.type === 'limit' && ref && order.limitPrice) {
      const marketable = order.side === 'buy' ? Number(ref) <= Number(order.limitPrice) : Number(ref) >= Number(order.limitPrice);
      return marketable ? ref : undefined;
    }
    return undefined;
  }

  private async addPosition(
    client: { query: TenantQuery },
    workspaceId: string,
    connectionId: string,
    symbol: string,
    side: 'buy' | 'sell',
    quantity: string,
  ): Promise<void> {
    await client.query(
      `INSERT INTO paper_positions (workspace_id, connection_id, symbol, quantity) VALUES ($1, $2, $3, $4)
       ON CONFLICT (connection_id, symbol) DO UPDATE SET quantity = paper_positions.quantity + EXCLUDED.quantity`,
      [workspaceId, connectionId, symbol, side === 'buy' ? quantity : `-${quantity}`],
    );
  }

  /**
   * Fills the connection's resting orders (of one symbol, or all) that a price quoted after them crossed, at
   * that price and time; then forgets the prices no resting order needs, keeping each symbol's latest.
   * The resting rows are locked, so two looks at once cannot fill an order twice. An entry's legs start resting at
   * its fill, so a second round fills the legs that later prices crossed.
   */
  private async fillCrossed(client: { query: TenantQuery }, workspaceId: string, connectionId: string, symbol?: string): Promise<void> {
    if (await this.fillRound(client, workspaceId, connectionId, symbol)) await this.fillRound(client, workspaceId, connectionId, symbol);
    await client.query(
      `DELETE FROM paper_quotes q WHERE q.connection_id = $1 AND ($2::text IS NULL OR q.symbol = $2)
          AND q.quoted_at < coalesce((SELECT min(o.created_at) FROM paper_orders o WHERE o.connection_id = q.connection_id AND o.symbol = q.symbol AND o.status = 'accepted'), 'infinity')
          AND q.quoted_at < (SELECT max(l.quoted_at) FROM paper_quotes l WHERE l.connection_id = q.connection_id AND l.symbol = q.symbol)`,
      [connectionId, symbol ?? null],
    );
  }

  /**
   * One round of fills, earliest crossing first: a leg's fill cancels its sibling (one-cancels-other), an entry's fill
   * opens its legs. True when legs were opened.
   */
  private async fillRound(client: { query: TenantQuery }, workspaceId: string, connectionId: string, symbol?: string): Promise<boolean> {
    const { rows: resting } = await client.query<{
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
    }>(
      `SELECT id, symbol, side, order_type, quantity::text, limit_price::text, stop_price::text, created_at, parent_id,
              (take_profit IS NOT NULL OR stop_loss IS NOT NULL) AS has_legs FROM paper_orders
        WHERE connection_id = $1 AND status = 'accepted' AND ($2::text IS NULL OR symbol = $2) ORDER BY created_at, id FOR UPDATE`,
      [connectionId, symbol ?? null],
    );
    if (resting.length === 0) return false;
    const { rows: quotes } = await client.query<{ symbol: string; price: string; quoted_at: Date }>(
      `SELECT symbol, price::text, quoted_at FROM paper_quotes WHERE connection_id = $1 AND ($2::text IS NULL OR symbol = $2) AND quoted_at > $3 ORDER BY quoted_at, id`,
      [connectionId, symbol ?? null, resting[0].created_at],
    );
    const crossed = resting
      .map((order) => {
        // `seq`: the quote's place in time; `at` (a JS Date) drops the microseconds that tell quotes of one millisecond apart.
        const after = quotes
          .map((q, seq) => ({ price: q.price, at: q.quoted_at, seq, symbol: q.symbol }))
          .filter((q) => q.symbol === order.symbol && q.at > order.created_at);
        return {
          order,
          fill: crossingFill({ side: order.side, orderType: order.order_type, limitPrice: order.limit_price, stopPrice: order.stop_price }, after),
        };
      })
      .filter((c): c is typeof c & { fill: NonNullable<typeof c.fill> } => c.fill !== undefined)
      .sort((a, b) => a.fill.seq - b.fill.seq);
    const closedBrackets = new Set<string>();
    let opened = false;
    for (const { order, fill } of crossed) {
      if (order.parent_id && closedBrackets.has(order.parent_id)) continue; // its sibling filled first and canceled it
      await client.query(`UPDATE paper_orders SET status = 'filled', fill_price = $2, filled_at = $3 WHERE id = $1`, [order.id, fill.price, fill.at]);
      await this.addPosition(client, workspaceId, connectionId, order.symbol, order.side, order.quantity);
      if (order.parent_id) {
        closedBrackets.add(order.parent_id);
        await client.query(`UPDATE paper_orders SET status = 'canceled' WHERE parent_id = $1 AND id <> $2 AND status = 'accepted'`, [
          order.parent_id,
          order.id,
        ]);
      } else if (order.has_legs) {
        await this.openLegs(client, order.id, fill.at);
        opened = true;
      }
    }
    return opened;
  }

  /**
   * The filled entry's take-profit (limit) and stop-loss (stop, or stop-limit) on the other side, resting from just
   * after its fill (`filledAt`; now when null), so the price that filled the entry does not also fill a leg.
   */
  private async openLegs(client: { query: TenantQuery }, entryId: string, filledAt: Date | null): Promise<void> {
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
  }

  /** The entry's legs as the broker's answer lists them, take-profit first. */
  private async legsOf(client: { query: TenantQuery }, entryId: string): Promise<BrokerLeg[]> {
    const { rows } = await client.query<PaperOrderRow>(`SELECT ${ROW_COLUMNS} FROM paper_orders WHERE parent_id = $1 ORDER BY bracket_role DESC`, [entryId]);
    return rows.map((r) => ({
      role: r.bracket_role!,
      clientOrderId: r.client_order_id,
      side: r.side,
      type: r.order_type,
      quantity: normalize(r.quantity),
      limitPrice: r.limit_price ? normalize(r.limit_price) : undefined,
      stopPrice: r.stop_price ? normalize(r.stop_price) : undefined,
      state: stateOf(r),
    }));
  }

  private async findRow(client: { query: TenantQuery }, connectionId: string, clientOrderId: string): Promise<PaperOrderRow | undefined> {
    const { rows } = await client.query<PaperOrderRow>(`SELECT ${ROW_COLUMNS} FROM paper_orders WHERE connection_id = $1 AND client_order_id = $2`, [
      connectionId,
      clientOrderId,
    ]);
    return rows[0];
  }
}

type TenantQuery = <R extends object>(sql: string, values: unknown[]) => Promise<{ rows: R[] }>;

function toAck(row: PaperOrderRow, legs: BrokerLeg[]): OrderAck {
  return {
    brokerOrderId: row.id,
    clientOrderId: row.client_order_id,
    status: row.status === 'canceled' ? 'rejected' : row.status,
    filledQuantity: row.status === 'filled' ? normalize(row.quantity) : undefined,
    averagePrice: row.fill_price ? normalize(row.fill_price) : undefined,
    reason: row.status === 'canceled' ? 'canceled' : undefined,
    ...(legs.length > 0 && { legs }),
  };
}

function stateOf(row: PaperOrderRow): BrokerOrderState {
  if (row.status !== 'filled' || !row.fill_price) {
    return { brokerOrderId: row.id, status: row.status, filledQuantity: '0', reason: row.status === 'canceled' ? 'canceled' : undefined };
  }
  const fill = {
    brokerFillId: row.id,
    quantity: normalize(row.quantity),
    price: normalize(row.fill_price),
    time: (row.filled_at ?? row.created_at).toISOString(),
  };
  return { brokerOrderId: row.id, status: 'filled', filledQuantity: fill.quantity, averagePrice: fill.price, fills: [fill] };
}

/** The simulator's floats as plain decimal strings (at most 8 places). */
function money(value: number): string {
  return normalize(value.toFixed(8));
}

/** numeric::text keeps trailing zeros ("1.500"); positions and fills read better without them. */
function normalize(decimal: string): string {
  return decimal.includes('.') ? decimal.replace(/0+$/, '').replace(/\.$/, '') : decimal;
}
