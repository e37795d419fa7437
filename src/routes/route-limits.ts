import { Prisma } from '../generated/prisma/client';
import type { TradingWindow } from '../common/trading-windows';
import type { NumericLimits } from '../common/limit-ceilings';
import type { CreateRouteDto, LimitsView } from './route.dto';

/** The limit columns a route and its workspace share. */
export interface LimitColumns {
  maxQuantity: Prisma.Decimal | null;
  maxNotional: Prisma.Decimal | null;
  maxOrdersPerMinute: number | null;
  maxSignalAgeSeconds: number | null;
  duplicateWindowSeconds: number | null;
  tradingWindows: Prisma.JsonValue | null;
  blockExitsOutsideWindows: boolean;
  maxPosition: Prisma.Decimal | null;
  maxOpenPositions: number | null;
}

export function limitsView(r: LimitColumns): LimitsView {
  const windows = r.tradingWindows as TradingWindow[] | null;
  return {
    maxQuantity: r.maxQuantity?.toString() ?? null,
    maxNotional: r.maxNotional?.toString() ?? null,
    maxOrdersPerMinute: r.maxOrdersPerMinute,
    maxSignalAgeSeconds: r.maxSignalAgeSeconds,
    duplicateWindowSeconds: r.duplicateWindowSeconds,
    tradingWindows: windows?.map((w) => ({ ...w, flattenAtEnd: w.flattenAtEnd ?? false })) ?? null,
    blockExitsOutsideWindows: r.blockExitsOutsideWindows,
    maxPosition: r.maxPosition?.toString() ?? null,
    maxOpenPositions: r.maxOpenPositions,
  };
}

/** The numeric limits of a row, for the ceiling check. */
export function numericLimits(r: LimitColumns): NumericLimits {
  const { tradingWindows: _w, blockExitsOutsideWindows: _b, ...numbers } = limitsView(r);
  return numbers;
}

/** A `limits` object as the columns it sets: it replaces all of them (unset fields clear). */
export function limitColumns(limits: CreateRouteDto['limits']) {
  return {
    maxQuantity: limits?.maxQuantity ?? null,
    maxNotional: limits?.maxNotional ?? null,
    maxOrdersPerMinute: limits?.maxOrdersPerMinute ?? null,
    maxSignalAgeSeconds: limits?.maxSignalAgeSeconds ?? null,
    duplicateWindowSeconds: limits?.duplicateWindowSeconds ?? null,
    tradingWindows: limits?.tradingWindows ?? Prisma.DbNull,
    blockExitsOutsideWindows: limits?.blockExitsOutsideWindows ?? false,
    maxPosition: limits?.maxPosition ?? null,
    maxOpenPositions: limits?.maxOpenPositions ?? null,
  };
}
