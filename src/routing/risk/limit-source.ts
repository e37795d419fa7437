import { stricterCeiling } from '../../common/limit-ceilings';

/** The route limits a workspace sets too, as default (the route sets none) and ceiling (the route may only be stricter). */
export type SourcedLimit = 'maxQuantity' | 'maxNotional' | 'maxOrdersPerMinute' | 'maxPosition' | 'maxOpenPositions';

/**
 * Where the value a route plans under came from; `workspace_ceiling` keeps the route's own, looser value for the words;
 * `live_default` is the signal age a live route gets when neither it nor its workspace sets one.
 */
export type LimitSource = { from: 'route' } | { from: 'workspace_default' } | { from: 'workspace_ceiling'; routeValue: string } | { from: 'live_default' };

export type LimitSources = Partial<Record<SourcedLimit, LimitSource>>;

/**
 * The stricter of the route's and the workspace's value, and where it came from. A tie is the route's own
 * (the route said it); an unset route limit takes the workspace's as its default.
 */
export function sourcedCeiling<T extends string | number>(route: T | null, workspace: T | null): { value: T | null; source?: LimitSource } {
  const value = stricterCeiling(route, workspace);
  if (value === null) return { value };
  if (route === null) return { value, source: { from: 'workspace_default' } };
  if (value === route) return { value, source: { from: 'route' } };
  return { value, source: { from: 'workspace_ceiling', routeValue: String(route) } };
}

/**
 * The limit in words, naming where it came from: "the route's limit of 5", "the workspace's default limit of 5 (the
 * route sets none)", or "the workspace's ceiling of 5 (the route's own 10 is looser)". No source recorded: the route's.
 */
export function limitWords(sources: LimitSources | undefined, field: SourcedLimit, value: string | number, unit = ''): string {
  return sourceWords(sources?.[field] ?? { from: 'route' }, value, unit);
}

export function sourceWords(source: LimitSource, value: string | number, unit = ''): string {
  if (source.from === 'live_default') return `the default of ${value}${unit} for live routes (neither the route nor the workspace sets one)`;
  if (source.from === 'workspace_default') return `the workspace's default limit of ${value}${unit} (the route sets none)`;
  if (source.from === 'workspace_ceiling') return `the workspace's ceiling of ${value}${unit} (the route's own ${source.routeValue}${unit} is looser)`;
  return `the route's limit of ${value}${unit}`;
}
