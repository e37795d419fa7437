import { tradingWindowRefusal, type TradingWindow } from '../../common/trading-windows';
import type { OrderPlan } from '../order-plan';
import type { RouteRow } from '../routing.repository';
import { LimitSource, LimitSources, SourcedLimit, sourcedCeiling } from './limit-source';

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
 * the workspace's), with where each came from for the block reasons; exits are blocked outside windows when either
 * says so; the workspace's windows apply on top.
 */
export function withWorkspaceLimits(route: RouteRow): RouteRow {
  const w = route.workspaceLimits;
  const limits = {
    maxQuantity: sourcedCeiling(route.maxQuantity, w.maxQuantity),
    maxNotional: sourcedCeiling(route.maxNotional, w.maxNotional),
    maxOrdersPerMinute: sourcedCeiling(route.maxOrdersPerMinute, w.maxOrdersPerMinute),
    maxPosition: sourcedCeiling(route.maxPosition, w.maxPosition),
    maxOpenPositions: sourcedCeiling(route.maxOpenPositions, w.maxOpenPositions),
  };
  const limitSources: LimitSources = {};
  for (const [field, { source }] of Object.entries(limits) as [SourcedLimit, { source?: LimitSource }][]) if (source) limitSources[field] = source;
  return {
    ...route,
    maxQuantity: limits.maxQuantity.value,
    maxNotional: limits.maxNotional.value,
    maxOrdersPerMinute: limits.maxOrdersPerMinute.value,
    maxPosition: limits.maxPosition.value,
    maxOpenPositions: limits.maxOpenPositions.value,
    limitSources,
    blockExitsOutsideWindows: route.blockExitsOutsideWindows || w.blockExitsOutsideWindows,
    workspaceTradingWindows: w.tradingWindows,
    exitsBlockedByWorkspace: !route.blockExitsOutsideWindows && w.blockExitsOutsideWindows,
  };
}

/** Why a leg may not go now for the windows: the route's own, then the workspace's (both must let it through). */
export function windowsRefusal(route: RouteRow, intent: OrderPlan['intent'], atMs: number): string | undefined {
  const refusal =
    tradingWindowRefusal(route.tradingWindows, route.blockExitsOutsideWindows, intent, atMs) ??
    tradingWindowRefusal(route.workspaceTradingWindows ?? null, route.blockExitsOutsideWindows, intent, atMs, "the workspace's");
  return refusal && intent !== 'entry' && route.exitsBlockedByWorkspace
    ? `${refusal} (the workspace's blockExitsOutsideWindows; the route's own allows exits)`
    : refusal;
}
