import type { PoolClient } from 'pg';
import { z } from 'zod';
import { TenantDb } from '../../database/tenant-db';
import type {
  AccountSummary,
  BrokerAdapter,
  BrokerCredentials,
  BrokerEnvironment,
  BrokerLeg,
  BrokerOrderState,
  HeldPosition,
  OrderAck,
  OrderLookup,
  OrderRequest,
  PermissionReport,
  Position,
} from '../broker-adapter';
import { BrokerError } from '../broker-error';
import { paperBook, type PaperOrderRow } from './paper-book.repository';
import { crossingFill } from './paper-crossing';

/** Paper accounts start with this much simulated cash; deterministic so sizing tests are exact. */
export const PAPER_EQUITY = '100000';

/**
 * The sealed "credentials" of a paper connection: set by the server at onboarding, never by the user,
 * so the simulator knows which tenant's book to use when the worker opens it like any other credential.
 */
const paperCredentials = z.object({ workspaceId: z.uuid() });

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
        await paperBook.addQuote(client, workspaceId, order.connectionId, order.symbol, order.referencePrice);
        await this.fillCrossed(client, workspaceId, order.connectionId, order.symbol);
      }
      const inserted = await paperBook.insertOrder(client, workspaceId, order, fillPrice);
      const row = inserted ?? (await paperBook.findOrder(client, order.connectionId, order.clientOrderId))!;
      if (inserted && fillPrice) {
        await paperBook.addPosition(client, workspaceId, order.connectionId, order.symbol, order.side, order.quantity);
        await paperBook.openLegs(client, row.id, null);
      }
      return toAck(row, await this.legsOf(client, row.id));
    });
  }

  async findOrder(credentials: BrokerCredentials, order: Pick<OrderRequest, 'clientOrderId' | 'connectionId'>): Promise<OrderAck | null> {
    const { workspaceId } = this.account(credentials);
    return this.db.runRaw(workspaceId, async (client) => {
      const row = await paperBook.findOrder(client, order.connectionId, order.clientOrderId);
      return row ? toAck(row, await this.legsOf(client, row.id)) : null;
    });
  }

  /** A paper order fills whole, once: its one fill carries the order's id. An entry's answer lists its legs. */
  async getOrder(credentials: BrokerCredentials, order: OrderLookup): Promise<BrokerOrderState | null> {
    const { workspaceId } = this.account(credentials);
    return this.db.runRaw(workspaceId, async (client) => {
      await this.fillCrossed(client, workspaceId, order.connectionId, order.symbol);
      const row = await paperBook.findOrder(client, order.connectionId, order.clientOrderId);
      if (!row) return null;
      const legs = await this.legsOf(client, row.id);
      return { ...stateOf(row), ...(legs.length > 0 && { legs }) };
    });
  }

  async getPosition(credentials: BrokerCredentials, symbol: string, _env: BrokerEnvironment, connectionId: string): Promise<Position> {
    const { workspaceId } = this.account(credentials);
    const quantity = await this.db.runRaw(workspaceId, (client) => paperBook.position(client, connectionId, symbol));
    return { symbol, quantity: normalize(quantity ?? '0') };
  }

  async cancelOpenOrders(credentials: BrokerCredentials, symbol: string, _env: BrokerEnvironment, connectionId: string): Promise<number> {
    const { workspaceId } = this.account(credentials);
    // An order a price crossed before the cancel arrived has filled: it is not canceled.
    return this.db.runRaw(workspaceId, async (client) => {
      await this.fillCrossed(client, workspaceId, connectionId, symbol);
      return paperBook.cancelResting(client, connectionId, symbol);
    });
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
    const rows = await this.db.runRaw(workspaceId, async (client) => {
      await this.fillCrossed(client, workspaceId, connectionId);
      return paperBook.fills(client, connectionId);
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

  /**
   * Fills the connection's resting orders (of one symbol, or all) that a price quoted after them crossed, at
   * that price and time; then forgets the prices no resting order needs, keeping each symbol's latest.
   * The resting rows are locked, so two looks at once cannot fill an order twice. An entry's legs start resting at
   * its fill, so a second round fills the legs that later prices crossed.
   */
  private async fillCrossed(client: PoolClient, workspaceId: string, connectionId: string, symbol?: string): Promise<void> {
    if (await this.fillRound(client, workspaceId, connectionId, symbol)) await this.fillRound(client, workspaceId, connectionId, symbol);
    await paperBook.forgetQuotes(client, connectionId, symbol);
  }

  /**
   * One round of fills, earliest crossing first: a leg's fill cancels its sibling (one-cancels-other), an entry's fill
   * opens its legs. True when legs were opened.
   */
  private async fillRound(client: PoolClient, workspaceId: string, connectionId: string, symbol?: string): Promise<boolean> {
    const resting = await paperBook.lockResting(client, connectionId, symbol);
    if (resting.length === 0) return false;
    const quotes = await paperBook.quotesAfter(client, connectionId, symbol, resting[0].created_at);
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
      await paperBook.markFilled(client, order.id, fill.price, fill.at);
      await paperBook.addPosition(client, workspaceId, connectionId, order.symbol, order.side, order.quantity);
      if (order.parent_id) {
        closedBrackets.add(order.parent_id);
        await paperBook.cancelSiblings(client, order.parent_id, order.id);
      } else if (order.has_legs) {
        await paperBook.openLegs(client, order.id, fill.at);
        opened = true;
      }
    }
    return opened;
  }

  /** The entry's legs as the broker's answer lists them, take-profit first. */
  private async legsOf(client: PoolClient, entryId: string): Promise<BrokerLeg[]> {
    return (await paperBook.legsOf(client, entryId)).map((r) => ({
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
}

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
