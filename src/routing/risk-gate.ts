import type { ConnectionState, Switches } from './routing.repository';

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

/** Route-level throttle, checked when orders are planned. */
export function routeRateLimit(maxOrdersPerMinute: number | null, ordersLastMinute: number): string | undefined {
  if (maxOrdersPerMinute !== null && ordersLastMinute >= maxOrdersPerMinute) {
    return `max_orders_per_minute: the route allows ${maxOrdersPerMinute} orders per minute`;
  }
  return undefined;
}
