import { parseDecimal } from './decimal';

/** The numeric limits a route and its workspace both set; null is unset (no limit). Decimals are strings. */
export interface NumericLimits {
  maxQuantity: string | null;
  maxNotional: string | null;
  maxOrdersPerMinute: number | null;
  maxSignalAgeSeconds: number | null;
  duplicateWindowSeconds: number | null;
  maxPosition: string | null;
  maxOpenPositions: number | null;
}

/** Limits where a larger value is looser: the workspace's is the most a route may set. */
const CEILINGS = ['maxQuantity', 'maxNotional', 'maxOrdersPerMinute', 'maxSignalAgeSeconds', 'maxPosition', 'maxOpenPositions'] as const;

const scaled = (v: string | number) => parseDecimal(String(v));

/**
 * The first limit a route sets looser than its workspace: above a ceiling, or a duplicate window shorter than the
 * workspace's (a shorter window lets more repeats through). Limits the route leaves unset take the workspace's.
 */
export function looserThanWorkspace(
  route: Partial<NumericLimits>,
  workspace: NumericLimits,
): { field: keyof NumericLimits; ceiling: string; words: string } | undefined {
  for (const field of CEILINGS) {
    const own = route[field];
    const ceiling = workspace[field];
    if (own != null && ceiling !== null && scaled(own) > scaled(ceiling)) {
      return { field, ceiling: String(ceiling), words: `${own} is above the workspace's ceiling of ${ceiling}` };
    }
  }
  const own = route.duplicateWindowSeconds;
  const floor = workspace.duplicateWindowSeconds;
  if (own != null && floor !== null && own < floor) {
    return { field: 'duplicateWindowSeconds', ceiling: String(floor), words: `${own} s is shorter than the workspace's window of ${floor} s` };
  }
  return undefined;
}

/** The stricter of two ceilings (null: unset). */
export function stricterCeiling<T extends string | number>(route: T | null, workspace: T | null): T | null {
  if (route === null) return workspace;
  if (workspace === null) return route;
  return scaled(route) <= scaled(workspace) ? route : workspace;
}
