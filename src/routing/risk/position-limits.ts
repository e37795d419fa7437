import { abs, formatDecimal, parseDecimal, ZERO } from '../../common/decimal';
import type { OrderPlan } from '../order-plan';
import { LimitSources, limitWords } from './limit-source';

/** An entry order of the connection that may still fill: its side and the quantity not filled yet. */
export interface WorkingEntry {
  symbol: string;
  side: 'buy' | 'sell';
  remaining: string;
}

/**
 * What planning knows of a connection's positions: signed quantities per symbol, from the broker's snapshot
 * when it is fresh and newer than every order sent since, else from the fills Switchyard recorded (its own
 * orders and flatten closes); and the entry orders still working.
 */
export interface ConnectionBook {
  /** `broker`: the position read from the broker right before sending (percent_equity entries, sized only then). */
  source: 'snapshot' | 'fills' | 'broker';
  positions: Map<string, bigint>;
  working: WorkingEntry[];
}

export interface PositionLimits {
  maxPosition: string | null;
  maxOpenPositions: number | null;
  /** Where each came from, for the reason's words (risk/workspace-limits.ts); unset: the route's own. */
  limitSources?: LimitSources;
}

const SOURCE_WORDS = { snapshot: "the broker's snapshot", fills: "Switchyard's recorded fills", broker: 'the broker, just now' } as const;

const signed = (side: 'buy' | 'sell', q: bigint) => (side === 'buy' ? q : -q);

/**
 * Why an entry leg may not go, given the book: it would take the symbol's position (with the working entries
 * on its side) further past `maxPosition`, or open a symbol while `maxOpenPositions` are open already.
 * `afterClose`: an earlier leg of the signal closes the opposite position first (a reversal's open leg).
 */
export function positionLimitRefusal(
  plan: OrderPlan,
  limits: PositionLimits,
  book: ConnectionBook,
  afterClose: boolean,
): { reason: string; limit: keyof PositionLimits } | undefined {
  if (plan.intent !== 'entry') return undefined;
  const held = book.positions.get(plan.symbol) ?? ZERO;
  const side = plan.side ?? (held > ZERO ? 'buy' : held < ZERO ? 'sell' : undefined);
  if (!side) return undefined; // an `add` with nothing open: the executor blocks it (no_position)
  const position = afterClose && held !== ZERO && held > ZERO !== (side === 'buy') ? ZERO : held;
  const working = book.working
    .filter((w) => w.symbol === plan.symbol && w.side === side)
    .reduce((sum, w) => sum + signed(side, parseDecimal(w.remaining)), ZERO);
  const from = SOURCE_WORDS[book.source];
  if (limits.maxOpenPositions !== null && position === ZERO && working === ZERO) {
    const open = openSymbols(book);
    if (!open.has(plan.symbol) && open.size >= limits.maxOpenPositions) {
      const names = [...open].sort().slice(0, 10).join(', ');
      const reason = `max_open_positions: ${open.size} positions are open or being opened on this connection (${names}, by ${from}); that reaches ${limitWords(limits.limitSources, 'maxOpenPositions', limits.maxOpenPositions)}, so ${plan.symbol} is not opened`;
      return { reason, limit: 'maxOpenPositions' };
    }
  }
  if (limits.maxPosition !== null && plan.quantity !== undefined) {
    const exposure = position + working;
    const after = exposure + signed(side, parseDecimal(plan.quantity));
    if (abs(after) > parseDecimal(limits.maxPosition) && abs(after) > abs(exposure)) {
      const reason = `max_position_exceeded: ${side === 'buy' ? 'buying' : 'selling'} ${plan.quantity} ${plan.symbol} would take the position to ${formatDecimal(after)} (held ${formatDecimal(position)} by ${from}, working ${formatDecimal(working)}), past ${limitWords(limits.limitSources, 'maxPosition', limits.maxPosition)} either way`;
      return { reason, limit: 'maxPosition' };
    }
  }
  return undefined;
}

/** Symbols with a position, or with an entry order working. */
function openSymbols(book: ConnectionBook): Set<string> {
  const open = new Set<string>();
  for (const [symbol, q] of book.positions) if (q !== ZERO) open.add(symbol);
  for (const w of book.working) open.add(w.symbol);
  return open;
}

/** A planned entry becomes working in the book, so the next route of the same signal on the connection counts it. */
export function addWorking(book: ConnectionBook, plan: OrderPlan): void {
  if (plan.intent === 'entry' && plan.side && plan.quantity) book.working.push({ symbol: plan.symbol, side: plan.side, remaining: plan.quantity });
}
