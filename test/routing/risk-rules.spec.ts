import { effectiveMaxSignalAge, staleRefusal } from '../../src/routing/risk/signal-age';
import { insideWindow, tradingWindowRefusal, TradingWindow, wallClock } from '../../src/common/trading-windows';

const at = (iso: string) => Date.parse(iso);
const own = (seconds: number) => ({ seconds, source: { from: 'route' as const } });

describe('maxSignalAgeSeconds', () => {
  const received = new Date('2026-03-02T15:00:00.000Z');
  const now = at('2026-03-02T15:01:00.000Z');

  it('passes a signal exactly at the limit and blocks one a millisecond past it, by its time', () => {
    expect(staleRefusal('2026-03-02T15:00:00.000Z', received, now, own(60))).toBeUndefined();
    expect(staleRefusal('2026-03-02T14:59:59.999Z', received, now, own(60))).toBe(
      "stale: the signal is 60.0 s old (its time 2026-03-02T14:59:59.999Z); it is past the route's limit of 60 s on a signal's age, old or ahead",
    );
  });

  it('blocks a time too far in the future the same way (a sender clock that cannot be trusted)', () => {
    expect(staleRefusal('2026-03-02T15:02:00.000Z', received, now, own(60))).toBeUndefined();
    expect(staleRefusal('2026-03-02T15:02:00.001Z', received, now, own(60))).toMatch(
      /^stale: the signal is 60\.0 s in the future \(its time 2026-03-02T15:02:00\.001Z\)/,
    );
  });

  it('counts the receive time when the signal has no time', () => {
    expect(staleRefusal(undefined, received, received.getTime() + 30_000, own(30))).toBeUndefined();
    expect(staleRefusal(undefined, received, received.getTime() + 30_001, own(30))).toBe(
      "stale: the signal is 30.0 s old (it was received at 2026-03-02T15:00:00.000Z (it has no time)); it is past the route's limit of 30 s on a signal's age, old or ahead",
    );
  });

  it('is off without a limit', () => {
    expect(staleRefusal('2000-01-01T00:00:00.000Z', received, now, undefined)).toBeUndefined();
  });

  it('defaults to 60 s on live routes and to none on paper; the workspace value is the default and the ceiling', () => {
    expect(effectiveMaxSignalAge(null, null, 'live')).toEqual({ seconds: 60, source: { from: 'live_default' } });
    expect(effectiveMaxSignalAge(null, null, 'paper')).toBeUndefined();
    expect(effectiveMaxSignalAge(300, null, 'live')).toEqual(own(300));
    expect(effectiveMaxSignalAge(null, 20, 'paper')).toEqual({ seconds: 20, source: { from: 'workspace_default' } });
    expect(effectiveMaxSignalAge(null, 120, 'live')).toEqual({ seconds: 120, source: { from: 'workspace_default' } });
    expect(effectiveMaxSignalAge(300, 120, 'live')).toEqual({ seconds: 120, source: { from: 'workspace_ceiling', routeValue: '300' } });
    expect(effectiveMaxSignalAge(120, 120, 'live')).toEqual(own(120));
    expect(effectiveMaxSignalAge(10, 120, 'paper')).toEqual(own(10));
  });

  it('says in the reason where the limit came from: the workspace default or ceiling, or the live default', () => {
    const stale = (route: number | null, workspace: number | null, environment: 'paper' | 'live') =>
      staleRefusal(undefined, received, received.getTime() + 200_000, effectiveMaxSignalAge(route, workspace, environment))?.split('; ')[1];
    expect(stale(null, 30, 'paper')).toBe("it is past the workspace's default limit of 30 s (the route sets none) on a signal's age, old or ahead");
    expect(stale(300, 30, 'paper')).toBe("it is past the workspace's ceiling of 30 s (the route's own 300 s is looser) on a signal's age, old or ahead");
    expect(stale(null, null, 'live')).toBe(
      "it is past the default of 60 s for live routes (neither the route nor the workspace sets one) on a signal's age, old or ahead",
    );
  });
});

describe('tradingWindows', () => {
  const nyse: TradingWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', end: '16:00', timezone: 'America/New_York' };

  it('reads the wall clock through Intl, with the DST offset of the day', () => {
    expect(wallClock(at('2026-01-05T14:30:00Z'), 'America/New_York')).toEqual({ day: 'mon', minute: 9 * 60 + 30 }); // EST, UTC-5
    expect(wallClock(at('2026-07-06T13:30:00Z'), 'America/New_York')).toEqual({ day: 'mon', minute: 9 * 60 + 30 }); // EDT, UTC-4
  });

  it('opens at start (inclusive) and closes at end (exclusive)', () => {
    expect(insideWindow(nyse, at('2026-01-05T14:29:59Z'))).toBe(false);
    expect(insideWindow(nyse, at('2026-01-05T14:30:00Z'))).toBe(true);
    expect(insideWindow(nyse, at('2026-01-05T20:59:59Z'))).toBe(true);
    expect(insideWindow(nyse, at('2026-01-05T21:00:00Z'))).toBe(false);
    expect(insideWindow(nyse, at('2026-01-03T15:00:00Z'))).toBe(false); // a Saturday
  });

  it('follows the spring-forward switch (Sunday 2026-03-08 in New York): Monday opens at 13:30 UTC, Friday before at 14:30 UTC', () => {
    expect(insideWindow(nyse, at('2026-03-06T14:29:00Z'))).toBe(false);
    expect(insideWindow(nyse, at('2026-03-06T14:30:00Z'))).toBe(true);
    expect(insideWindow(nyse, at('2026-03-09T13:29:00Z'))).toBe(false);
    expect(insideWindow(nyse, at('2026-03-09T13:30:00Z'))).toBe(true);
    expect(insideWindow(nyse, at('2026-03-09T19:59:00Z'))).toBe(true);
    expect(insideWindow(nyse, at('2026-03-09T20:00:00Z'))).toBe(false);
  });

  it('follows the switch day itself: a Sunday window across the skipped and the repeated hour', () => {
    const sunday: TradingWindow = { days: ['sun'], start: '01:00', end: '04:00', timezone: 'America/New_York' };
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 01:00-04:00 local lasts two hours (06:00Z-08:00Z).
    expect(insideWindow(sunday, at('2026-03-08T05:59:00Z'))).toBe(false);
    expect(insideWindow(sunday, at('2026-03-08T06:00:00Z'))).toBe(true);
    expect(insideWindow(sunday, at('2026-03-08T07:59:00Z'))).toBe(true);
    expect(insideWindow(sunday, at('2026-03-08T08:00:00Z'))).toBe(false);
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:00-04:00 local lasts four hours (05:00Z-09:00Z).
    expect(insideWindow(sunday, at('2026-11-01T04:59:00Z'))).toBe(false);
    expect(insideWindow(sunday, at('2026-11-01T05:00:00Z'))).toBe(true);
    expect(insideWindow(sunday, at('2026-11-01T08:59:00Z'))).toBe(true);
    expect(insideWindow(sunday, at('2026-11-01T09:00:00Z'))).toBe(false);
  });

  it('follows the fall-back switch (2026-11-01) and a zone of the other hemisphere (Sydney, 2026-04-05)', () => {
    expect(insideWindow(nyse, at('2026-10-30T13:30:00Z'))).toBe(true); // EDT
    expect(insideWindow(nyse, at('2026-11-02T13:30:00Z'))).toBe(false); // EST now: 08:30
    expect(insideWindow(nyse, at('2026-11-02T14:30:00Z'))).toBe(true);
    const asx: TradingWindow = { days: ['mon'], start: '10:00', end: '16:00', timezone: 'Australia/Sydney' };
    // Sydney leaves daylight time on Sunday 2026-04-05: Monday 10:00 is 00:00Z (AEST, UTC+10), the Monday before 23:00Z (AEDT).
    expect(insideWindow(asx, at('2026-03-29T23:00:00Z'))).toBe(true);
    expect(insideWindow(asx, at('2026-04-05T23:00:00Z'))).toBe(false);
    expect(insideWindow(asx, at('2026-04-06T00:00:00Z'))).toBe(true);
  });

  it('runs an overnight window into the next day, from the days it opens on only', () => {
    // CME-style: opens Sunday to Thursday 18:00, closes 17:00 the next day.
    const futures: TradingWindow = { days: ['sun', 'mon', 'tue', 'wed', 'thu'], start: '18:00', end: '17:00', timezone: 'America/Chicago' };
    expect(insideWindow(futures, at('2026-01-04T23:59:00Z'))).toBe(false); // Sun 17:59 CST
    expect(insideWindow(futures, at('2026-01-05T00:00:00Z'))).toBe(true); // Sun 18:00
    expect(insideWindow(futures, at('2026-01-05T22:59:00Z'))).toBe(true); // Mon 16:59
    expect(insideWindow(futures, at('2026-01-05T23:00:00Z'))).toBe(false); // Mon 17:00
    expect(insideWindow(futures, at('2026-01-09T22:59:00Z'))).toBe(true); // Fri 16:59, opened Thursday
    expect(insideWindow(futures, at('2026-01-10T00:30:00Z'))).toBe(false); // Fri 18:30: Friday opens none
  });

  it('blocks entries outside every window with the reason; exits go unless the route blocks them', () => {
    const saturday = at('2026-01-03T15:00:00Z');
    expect(tradingWindowRefusal([nyse], false, 'entry', saturday)).toBe(
      "outside_trading_window: 2026-01-03T15:00:00.000Z is outside this route's trading windows (mon,tue,wed,thu,fri 09:30-16:00 America/New_York); entries are blocked outside them",
    );
    expect(tradingWindowRefusal([nyse], false, 'exit', saturday)).toBeUndefined();
    expect(tradingWindowRefusal([nyse], false, 'cancel', saturday)).toBeUndefined();
    expect(tradingWindowRefusal([nyse], true, 'exit', saturday)).toMatch(/exits are blocked outside them$/);
    expect(tradingWindowRefusal([nyse], true, 'entry', at('2026-01-05T15:00:00Z'))).toBeUndefined();
    expect(tradingWindowRefusal(null, true, 'entry', saturday)).toBeUndefined();
  });

  it('is inside when any window is', () => {
    const evening: TradingWindow = { days: ['sat'], start: '09:00', end: '12:00', timezone: 'Europe/London' };
    expect(tradingWindowRefusal([nyse, evening], false, 'entry', at('2026-01-03T10:00:00Z'))).toBeUndefined();
  });
});
