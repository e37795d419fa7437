import { DUPLICATE_CODE, type ConnectionState, type RouteRow, type SignalRow, type Switches } from './routing.repository';
import { limitWords } from './risk/limit-source';
import { effectiveMaxSignalAge, staleRefusal } from './risk/signal-age';

/**
 * The checks every order passes right before it may reach a broker; re-read from the database
 * in the order's own transaction, so a kill switch or revoke takes effect for the very next order.
 * Paper is the default: a live connection routes only once the owner enabled live trading.
 */
export function riskGate(switches: Switches, connection: ConnectionState | undefined): string | undefined {
  if (switches.platformKill) return 'platform_kill_switch: the platform kill switch is engaged';
  if (switches.workspaceKill) return 'workspace_kill_switch: the workspace kill switch is engaged';
  if (!connection || connection.status !== 'active') return 'connection_revoked: the broker connection was revoked';
  if (connection.environment === 'live' && !switches.liveTradingEnabled) {
    return 'live_trading_disabled: the workspace owner has not enabled live trading';
  }
  return undefined;
}

/** Route-level throttle, checked when orders are planned; the reason names where the limit came from. */
export function routeRateLimit(route: Pick<RouteRow, 'maxOrdersPerMinute' | 'ordersLastMinute' | 'limitSources'>): string | undefined {
  const { maxOrdersPerMinute, ordersLastMinute } = route;
  if (maxOrdersPerMinute !== null && ordersLastMinute >= maxOrdersPerMinute) {
    const limit = limitWords(route.limitSources, 'maxOrdersPerMinute', maxOrdersPerMinute, ' orders per minute');
    return `max_orders_per_minute: ${ordersLastMinute} orders of the route were sent in the last minute, which reaches ${limit}`;
  }
  return undefined;
}

/**
 * Refusals of the whole signal for one route, checked when its orders are planned: too old (or too far
 * ahead), or a repeat of an earlier signal of the source inside the route's duplicate window.
 */
export function signalRefusal(signal: SignalRow, route: RouteRow, nowMs: number): { reason: string; limit: string } | undefined {
  const maxAge = effectiveMaxSignalAge(route.maxSignalAgeSeconds, route.workspaceMaxSignalAgeSeconds, route.environment);
  const time = typeof signal.payload.time === 'string' ? signal.payload.time : undefined;
  const stale = staleRefusal(time, new Date(signal.receivedAt), nowMs, maxAge);
  if (stale) return { reason: stale, limit: 'maxSignalAgeSeconds' };
  if (route.duplicateOf) {
    const p = signal.payload;
    const what = [p.ticker, p.action, p.sentiment].filter((v) => typeof v === 'string').join(' ');
    return {
      reason: `${DUPLICATE_CODE}: ${what} repeats signal ${route.duplicateOf} from this source within ${route.duplicateWindowSeconds} s; dropped as a duplicate`,
      limit: 'duplicateWindowSeconds',
    };
  }
  return undefined;
}
