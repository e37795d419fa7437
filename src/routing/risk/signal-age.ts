/** A live route that sets no signal age, in a workspace that sets none either, refuses signals older than this. */
export const LIVE_DEFAULT_MAX_SIGNAL_AGE_SECONDS = 60;

/**
 * The signal age a route enforces: its own, else the workspace's default, else 60 s on live connections
 * (paper: none). The workspace's value is also the ceiling: a route may only be stricter.
 */
export function effectiveMaxSignalAge(route: number | null, workspace: number | null, environment: 'paper' | 'live'): number | undefined {
  const wanted = route ?? workspace ?? (environment === 'live' ? LIVE_DEFAULT_MAX_SIGNAL_AGE_SECONDS : undefined);
  return wanted !== undefined && workspace !== null ? Math.min(wanted, workspace) : wanted;
}

/**
 * `stale` when the signal's time (else when it was received) is more than `maxAgeSeconds` away from now:
 * in the past (a retried or queued alert) or in the future (a sender's clock that cannot be trusted).
 */
export function staleRefusal(time: string | undefined, receivedAt: Date, nowMs: number, maxAgeSeconds: number | undefined): string | undefined {
  if (maxAgeSeconds === undefined) return undefined;
  const madeAt = time ? Date.parse(time) : receivedAt.getTime();
  const ageMs = nowMs - madeAt;
  if (Math.abs(ageMs) <= maxAgeSeconds * 1000) return undefined;
  const what = time ? `its time ${new Date(madeAt).toISOString()}` : `it was received at ${receivedAt.toISOString()} (it has no time)`;
  const how = ageMs > 0 ? `${(ageMs / 1000).toFixed(1)} s old` : `${(-ageMs / 1000).toFixed(1)} s in the future`;
  return `stale: the signal is ${how} (${what}); this route accepts signals at most ${maxAgeSeconds} s old or ahead`;
}
