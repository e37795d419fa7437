import { abs, div, formatDecimal, mul, parseDecimal, round, ZERO } from '../common/decimal';

/** One execution as P&L reads it, oldest first; `side` is null where the order's side was never recorded. */
export interface PnlFill {
  symbol: string;
  side: 'buy' | 'sell' | null;
  quantity: string;
  price: string;
  fee: string | null;
  /** When it filled; only needed for a report `since` a moment. */
  at?: Date;
}

export interface SymbolPnl {
  symbol: string;
  /** Net position the fills leave (signed: negative short). */
  position: string;
  /** Average cost of that position; null when flat. */
  averageCost: string | null;
  /** Realised on closes, average-cost method, in the symbol's quote currency; fees not deducted. */
  realizedPnl: string;
  /** Sum of the fees the brokers reported (Alpaca and cumulative-only brokers report none). */
  fees: string;
  fills: number;
}

export interface PnlReport {
  symbols: SymbolPnl[];
  /** Fills of orders whose side was never recorded (an order found at the broker on a retry); left out above. */
  unattributedFills: number;
}

/** Average costs are shown to 8 decimals (they are kept to 12). */
const COST_PLACES = 8;

/**
 * Realised P&L per symbol by the average-cost method: buys and sells against the running position. With `since`
 * (a session boundary), only closes filled at or after it count as realised; the fills before it still build the
 * positions and their average cost, so a position opened yesterday and closed today realises today.
 */
export function realizedPnl(fills: PnlFill[], since?: Date): PnlReport {
  const books = new Map<string, { position: bigint; cost: bigint; realized: bigint; fees: bigint; fills: number }>();
  let unattributed = 0;
  for (const fill of fills) {
    if (!fill.side) {
      unattributed++;
      continue;
    }
    let book = books.get(fill.symbol);
    if (!book) books.set(fill.symbol, (book = { position: ZERO, cost: ZERO, realized: ZERO, fees: ZERO, fills: 0 }));
    const qty = parseDecimal(fill.quantity);
    const price = parseDecimal(fill.price);
    const signed = fill.side === 'buy' ? qty : -qty;
    book.fills++;
    if (fill.fee) book.fees += parseDecimal(fill.fee);
    if (book.position === ZERO || book.position > ZERO === signed > ZERO) {
      // Opening or adding: the average cost moves toward this price.
      const held = abs(book.position);
      book.cost = div(mul(held, book.cost) + mul(qty, price), held + qty);
      book.position += signed;
      continue;
    }
    const closed = qty < abs(book.position) ? qty : abs(book.position);
    const direction = book.position > ZERO ? 1n : -1n;
    if (!since || (fill.at !== undefined && fill.at >= since)) book.realized += mul(closed, price - book.cost) * direction;
    book.position += signed;
    if (book.position === ZERO) book.cost = ZERO;
    else if (book.position > ZERO !== direction > 0n) book.cost = price; // reversed through flat: the rest opened at this price
  }
  const symbols = [...books].map(([symbol, b]) => ({
    symbol,
    position: formatDecimal(b.position),
    averageCost: b.position === ZERO ? null : formatDecimal(round(b.cost, COST_PLACES)),
    realizedPnl: formatDecimal(b.realized),
    fees: formatDecimal(b.fees),
    fills: b.fills,
  }));
  return { symbols: symbols.sort((a, b) => a.symbol.localeCompare(b.symbol)), unattributedFills: unattributed };
}
