import { LimitSource, sourceWords } from './limit-source';

/** A live route that sets no signal age, in a workspace that sets none either, refuses signals older than this. */
export const LIVE_DEFAULT_MAX_SIGNAL_AGE_SECONDS = 60;

/** The signal age a route enforces, and where it came from (for the reason's words). */
export interface MaxSignalAge {
  seconds: number;
  source: LimitSource;
}

/**
 * The signal age a route enforces: its own, else the workspace's default, else 60 s on live connections
 * (paper: none). The workspace's value is also the ceiling: a route may only be stricter (a tie is the route's own).
 */
export function effectiveMaxSignalAge(route: number | null, workspace: number | null, environment: 'paper' | 'live'): MaxSignalAge | undefined {
  if (route !== null) {
    if (workspace !== null && workspace < route) return { seconds: workspace, source: { from: 'workspace_ceiling', routeValue: String(route) } };
    return { seconds: route, source: { from: 'route' } };
  }
  if (workspace !== null) return { seconds: workspace, source: { from: 'workspace_default' } };
  return environment === 'live' ? { seconds: LIVE_DEFAULT_MAX_SIGNAL_AGE_SECONDS, source: { from: 'live_default' } } : undefined;
}

/**
 * `stale` when the signal's time (else when it was received) is more than `maxAgeSeconds` away from now:
 * in the past (a retried or queued alert) or in the future (a sender's clock that cannot be trusted).
 */
export function staleRefusal(time: string | undefined, receivedAt: Date, nowMs: number, maxAge: MaxSignalAge | undefined): string | undefined {
  if (maxAge === undefined) return undefined;
  const maxAgeSeconds = maxAge.seconds;
  const madeAt = time ? Date.parse(time) : receivedAt.getTime();
  const ageMs = nowMs - madeAt;
  if (Math.abs(ageMs) <= maxAgeSeconds * 1000) return undefined;
  const what = time ? `its time ${new Date(madeAt).toISOString()}` : `it was received at ${receivedAt.toISOString()} (it has no time)`;
  const how = ageMs > 0 ? `${(ageMs / 1000).toFixed(1)} s old` : `${(-ageMs / 1000).toFixed(1)} s in the future`;
  return `stale: the signal is ${how} (${what}); it is past ${sourceWords(maxAge.source, maxAgeSeconds, ' s')} on a signal's age, old or ahead`;
}
