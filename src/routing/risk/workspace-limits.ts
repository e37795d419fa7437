import { stricterCeiling } from '../../common/limit-ceilings';
import { tradingWindowRefusal, type TradingWindow } from '../../common/trading-windows';
import type { OrderPlan } from '../order-plan';
import type { RouteRow } from '../routing.repository';

/** A workspace's limits as planning reads them (null: unset); the signal age and duplicate window are folded in SQL and signal-age.ts. */
export interface WorkspaceLimits {
  maxQuantity: string | null;
  maxNotional: string | null;
  maxOrdersPerMinute: number | null;
  tradingWindows: TradingWindow[] | null;
  blockExitsOutsideWindows: boolean;
  maxPosition: string | null;
  maxOpenPositions: number | null;
}

/**
 * The route with the limits it plans under: for each ceiling the stricter of its own and its workspace's (unset takes
 * the workspace's); exits are blocked outside windows when either says so; the workspace's windows apply on top.
 */
export function withWorkspaceLimits(route: RouteRow): RouteRow {
  const w = route.workspaceLimits;
  return {
    ...route,
    maxQuantity: stricterCeiling(route.maxQuantity, w.maxQuantity),
    maxNotional: stricterCeiling(route.maxNotional, w.maxNotional),
    maxOrdersPerMinute: stricterCeiling(route.maxOrdersPerMinute, w.maxOrdersPerMinute),
    maxPosition: stricterCeiling(route.maxPosition, w.maxPosition),
    maxOpenPositions: stricterCeiling(route.maxOpenPositions, w.maxOpenPositions),
    blockExitsOutsideWindows: route.blockExitsOutsideWindows || w.blockExitsOutsideWindows,
    workspaceTradingWindows: w.tradingWindows,
  };
}

/** Why a leg may not go now for the windows: the route's own, then the workspace's (both must let it through). */
export function windowsRefusal(route: RouteRow, intent: OrderPlan['intent'], atMs: number): string | undefined {
  return (
    tradingWindowRefusal(route.tradingWindows, route.blockExitsOutsideWindows, intent, atMs) ??
    tradingWindowRefusal(route.workspaceTradingWindows ?? null, route.blockExitsOutsideWindows, intent, atMs, "the workspace's")
  );
}
