import { formatDecimal, mul, parseDecimal, ZERO } from '../../common/decimal';
import { PnlFill, realizedPnl } from '../../orders/realized-pnl';

/** A connection's loss limits (connection_risk), each null when not set. */
export interface LossSettings {
  dailyLossLimit: string | null;
  maxDrawdown: string | null;
  action: 'block' | 'flatten';
  sessionStart: string;
  sessionTimezone: string;
}

/** What Switchyard knows of a connection's trading, for its session P&L. */
export interface LossInputs {
  /** Every fill of the connection (its orders' and its flatten closes'), oldest first. */
  fills: PnlFill[];
  /** The broker's positions from a snapshot younger than SNAPSHOT_MAX_AGE_MS, else null. */
  snapshot: { symbol: string; quantity: string; unrealizedPnl?: string }[] | null;
  /** The latest price known per symbol (a paper quote or signal price), with its time. */
  quotes: Record<string, { price: string; at: Date }>;
}

export interface SessionPnl {
  realized: bigint;
  unrealized: bigint;
  total: bigint;
  /** `snapshot`: the broker's own unrealised P&L; `marks`: the fills' positions valued at the latest known prices. */
  unrealizedFrom: 'snapshot' | 'marks';
}

export interface LossBreach {
  limit: 'dailyLossLimit' | 'maxDrawdown';
  reason: string;
}

/**
 * The session's P&L: realised on fills since the session start (average cost over the whole history), plus the
 * unrealised P&L of what is open now. The broker's snapshot gives the unrealised P&L when it is fresh and states it
 * for every position; otherwise each position the fills leave is valued at the latest price Switchyard saw for its
 * symbol (a paper quote or signal price, or the last fill, whichever is newer).
 */
export function sessionPnl(inputs: LossInputs, since: Date): SessionPnl {
  const report = realizedPnl(inputs.fills, since);
  const realized = report.symbols.reduce((sum, s) => sum + parseDecimal(s.realizedPnl), ZERO);
  const snapshot = inputs.snapshot;
  if (snapshot && snapshot.every((p) => p.unrealizedPnl !== undefined && /^-?\d+(\.\d+)?$/.test(p.unrealizedPnl))) {
    const unrealized = snapshot.reduce((sum, p) => sum + parseDecimal(p.unrealizedPnl!), ZERO);
    return { realized, unrealized, total: realized + unrealized, unrealizedFrom: 'snapshot' };
  }
  const lastFill = new Map<string, { price: string; at: Date }>();
  for (const f of inputs.fills) if (f.at) lastFill.set(f.symbol, { price: f.price, at: f.at });
  let unrealized = ZERO;
  for (const s of report.symbols) {
    if (s.averageCost === null) continue;
    const quote = inputs.quotes[s.symbol];
    const fill = lastFill.get(s.symbol);
    const mark = quote && (!fill || quote.at >= fill.at) ? quote.price : fill?.price;
    if (mark) unrealized += mul(parseDecimal(s.position), parseDecimal(mark) - parseDecimal(s.averageCost));
  }
  return { realized, unrealized, total: realized + unrealized, unrealizedFrom: 'marks' };
}

const FROM_WORDS = { snapshot: "by the broker's snapshot", marks: 'at the latest prices Switchyard saw' } as const;

/**
 * Whether the session P&L breaches a limit: the loss reaches `dailyLossLimit`, or the fall from the session's
 * high-water mark (`peak`, at least 0) reaches `maxDrawdown`. The reason says the numbers and what happens.
 */
export function lossBreach(settings: LossSettings, pnl: SessionPnl, peak: bigint, session: { start: Date; end: Date }): LossBreach | undefined {
  const detail = `since ${session.start.toISOString()}: realised ${formatDecimal(pnl.realized)}, unrealised ${formatDecimal(pnl.unrealized)} ${FROM_WORDS[pnl.unrealizedFrom]}`;
  const then =
    settings.action === 'flatten'
      ? 'so the connection is flattened and its kill switch engaged'
      : `so new entries are blocked until the session ends at ${session.end.toISOString()} (exits still go)`;
  if (settings.dailyLossLimit !== null && -pnl.total >= parseDecimal(settings.dailyLossLimit)) {
    return {
      limit: 'dailyLossLimit',
      reason: `daily_loss_limit: this connection's session P&L is ${formatDecimal(pnl.total)} (${detail}); its daily loss limit is ${settings.dailyLossLimit}, ${then}`,
    };
  }
  const drawdown = peak - pnl.total;
  if (settings.maxDrawdown !== null && drawdown >= parseDecimal(settings.maxDrawdown)) {
    return {
      limit: 'maxDrawdown',
      reason: `max_drawdown: this connection's session P&L fell ${formatDecimal(drawdown)} from its high of ${formatDecimal(peak)} to ${formatDecimal(pnl.total)} (${detail}); its maximum drawdown is ${settings.maxDrawdown}, ${then}`,
    };
  }
  return undefined;
}
