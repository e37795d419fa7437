import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { TenantDb } from '../../database/tenant-db';
import type { AccountSummary, BrokerAdapter, BrokerCredentials, BrokerEnvironment, BrokerOrderState, HeldPosition, OrderAck, OrderLookup, OrderRequest, PermissionReport, Position } from '../broker-adapter';
import { BrokerError } from '../broker-error';

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
  status: 'accepted' | 'filled' | 'canceled';
  quantity: string;
  fill_price: string | null;
  created_at: Date;
}

/**
 * The built-in paper broker: a deterministic simulator. Market orders fill at the signal's price,
 * marketable limits fill at the signal's price, everything else rests; positions are tracked per connection.
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
    const fillPrice = this.fillPrice(order);
    return this.db.runRaw(workspaceId, async (client) => {
      const inserted = await client.query<PaperOrderRow>(
        `INSERT INTO paper_orders (id, workspace_id, connection_id, client_order_id, symbol, side, order_type, quantity, limit_price, stop_price, status, fill_price)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (connection_id, client_order_id) DO NOTHING
         RETURNING id, client_order_id, status, quantity::text, fill_price::text, created_at`,
        [randomUUID(), workspaceId, order.connectionId, order.clientOrderId, order.symbol, order.side, order.type, order.quantity,
          order.limitPrice ?? null, order.stopPrice ?? null, fillPrice ? 'filled' : 'accepted', fillPrice ?? null],
      );
      if (inserted.rowCount === 0) return toAck((await this.findRow(client, order.connectionId, order.clientOrderId))!);
      if (fillPrice) {
        const signed = order.side === 'buy' ? order.quantity : `-${order.quantity}`;
        await client.query(
          `INSERT INTO paper_positions (workspace_id, connection_id, symbol, quantity) VALUES ($1, $2, $3, $4)
           ON CONFLICT (connection_id, symbol) DO UPDATE SET quantity = paper_positions.quantity + EXCLUDED.quantity`,
          [workspaceId, order.connectionId, order.symbol, signed],
        );
      }
      return toAck(inserted.rows[0]);
    });
  }

  async findOrder(credentials: BrokerCredentials, order: Pick<OrderRequest, 'clientOrderId' | 'connectionId'>): Promise<OrderAck | null> {
    const { workspaceId } = this.account(credentials);
    const row = await this.db.runRaw(workspaceId, (client) => this.findRow(client, order.connectionId, order.clientOrderId));
    return row ? toAck(row) : null;
  }

  /** A paper order fills whole, once: its one fill carries the order's id. */
  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const { workspaceId } = this.account(credentials);
    const row = await this.db.runRaw(workspaceId, (client) => this.findRow(client, order.connectionId, order.clientOrderId));
    if (!row) return null;
    if (row.status !== 'filled' || !row.fill_price) {
      return { brokerOrderId: row.id, status: row.status, filledQuantity: '0', reason: row.status === 'canceled' ? 'canceled' : undefined };
    }
    const fill = { brokerFillId: row.id, quantity: normalize(row.quantity), price: normalize(row.fill_price), time: row.created_at.toISOString() };
    return { brokerOrderId: row.id, status: 'filled', filledQuantity: fill.quantity, averagePrice: fill.price, fills: [fill] };
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
    const result = await this.db.runRaw(workspaceId, (client) =>
      client.query(`UPDATE paper_orders SET status = 'canceled' WHERE connection_id = $1 AND symbol = $2 AND status = 'accepted'`, [connectionId, symbol]),
    );
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
    const { rows } = await this.db.runRaw(workspaceId, (client) =>
      client.query<{ symbol: string; side: 'buy' | 'sell'; quantity: string; price: string }>(
        `SELECT symbol, side, quantity::text, fill_price::text AS price FROM paper_orders
          WHERE connection_id = $1 AND status = 'filled' ORDER BY created_at, id`,
        [connectionId],
      ),
    );
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

  private async findRow(client: { query: TenantQuery }, connectionId: string, clientOrderId: string): Promise<PaperOrderRow | undefined> {
    const { rows } = await client.query<PaperOrderRow>(
      'SELECT id, client_order_id, status, quantity::text, fill_price::text, created_at FROM paper_orders WHERE connection_id = $1 AND client_order_id = $2',
      [connectionId, clientOrderId],
    );
    return rows[0];
  }
}

type TenantQuery = <R extends object>(sql: string, values: unknown[]) => Promise<{ rows: R[] }>;

function toAck(row: PaperOrderRow): OrderAck {
  return {
    brokerOrderId: row.id,
    clientOrderId: row.client_order_id,
    status: row.status === 'canceled' ? 'rejected' : row.status,
    filledQuantity: row.status === 'filled' ? normalize(row.quantity) : undefined,
    averagePrice: row.fill_price ? normalize(row.fill_price) : undefined,
    reason: row.status === 'canceled' ? 'canceled' : undefined,
  };
}

/** The simulator's floats as plain decimal strings (at most 8 places). */
function money(value: number): string {
  return normalize(value.toFixed(8));
}

/** numeric::text keeps trailing zeros ("1.500"); positions and fills read better without them. */
function normalize(decimal: string): string {
  return decimal.includes('.') ? decimal.replace(/0+$/, '').replace(/\.$/, '') : decimal;
}
