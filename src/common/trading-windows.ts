/** Weekday names as routes write them, in the order Intl's `weekday: 'short'` (en-US) counts from Sunday. */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * A weekly window in a wall-clock time zone. `days` are the days the window opens on: an overnight
 * window (`end` before `start`) runs on into the next day, so `fri 18:00-02:00` covers Saturday 01:00.
 */
export interface TradingWindow {
  days: Weekday[];
  start: string;
  end: string;
  timezone: string;
  /** At the window's end the route's positions on its connection are flattened (src/routing/window-flattener.ts). */
  flattenAtEnd?: boolean;
}

export const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Whether Intl knows the IANA zone name (it throws RangeError otherwise). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock weekday and minute of the day at `atMs` in `timezone`; Intl applies the zone's DST rules. */
export function wallClock(atMs: number, timezone: string): { day: Weekday; minute: number } {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(atMs).map((p) => [p.type, p.value]));
  return { day: parts.weekday.toLowerCase() as Weekday, minute: Number(parts.hour) * 60 + Number(parts.minute) };
}

function minuteOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

function previousDay(day: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7];
}

/** Whether `atMs` falls in the window: from `start` (inclusive) to `end` (exclusive) in the window's zone. */
export function insideWindow(window: TradingWindow, atMs: number): boolean {
  const { day, minute } = wallClock(atMs, window.timezone);
  const start = minuteOf(window.start);
  const end = minuteOf(window.end);
  if (start < end) return window.days.includes(day) && minute >= start && minute < end;
  // Overnight: the evening part on an opening day, or the morning part on the day after one.
  return (window.days.includes(day) && minute >= start) || (window.days.includes(previousDay(day)) && minute < end);
}

export function describeWindow(w: TradingWindow): string {
  return `${w.days.join(',')} ${w.start}-${w.end} ${w.timezone}`;
}

/**
 * Why an order may not go now, given the route's windows: none set, or inside one, is no refusal; exits
 * (and cancels) go outside them too unless the route blocks them.
 */
export function tradingWindowRefusal(
  windows: TradingWindow[] | null,
  blockExits: boolean,
  intent: 'entry' | 'exit' | 'cancel',
  atMs: number,
  whose = "this route's",
): string | undefined {
  if (!windows?.length || windows.some((w) => insideWindow(w, atMs))) return undefined;
  if (intent !== 'entry' && !blockExits) return undefined;
  const kind = intent === 'entry' ? 'entries' : 'exits';
  const listed = windows.map(describeWindow).join('; ');
  return `outside_trading_window: ${new Date(atMs).toISOString()} is outside ${whose} trading windows (${listed}); ${kind} are blocked outside them`;
}

/**
 * The latest end of a `flattenAtEnd` window within `lookbackMs` before `nowMs`: the first minute at which it is no
 * longer inside (so a DST gap that skips its end time still ends it, at the first wall time after), while no window of
 * the list is inside either (adjacent windows hand over without a flatten).
 */
export function lastWindowEnd(windows: TradingWindow[] | null, nowMs: number, lookbackMs: number): { endMs: number; window: TradingWindow } | undefined {
  const flattening = windows?.filter((w) => w.flattenAtEnd) ?? [];
  if (!flattening.length) return undefined;
  for (let t = Math.floor(nowMs / 60_000) * 60_000; t > nowMs - lookbackMs; t -= 60_000) {
    const ended = flattening.find((w) => insideWindow(w, t - 60_000) && !insideWindow(w, t));
    if (ended && !windows!.some((w) => insideWindow(w, t))) return { endMs: t, window: ended };
  }
  return undefined;
}
