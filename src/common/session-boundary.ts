const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock date and time at `atMs` in `timezone`, read back as if it were UTC (Intl applies the zone's DST rules). */
function wallAsUtc(atMs: number, timezone: string): number {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timezone, format);
  }
  const p = Object.fromEntries(format.formatToParts(atMs).map((part) => [part.type, Number(part.value)]));
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
}

/**
 * The instant the wall clock of `timezone` shows `minuteOfDay` on the local date of `dayMs`. A time the clocks skip
 * (inside a spring-forward gap) is read with the offset before the gap, and a time they show twice (fall back) is
 * the first of the two, as Temporal's `compatible` disambiguation does.
 */
function instantOn(dayMs: number, minuteOfDay: number, timezone: string): number {
  const local = wallAsUtc(dayMs, timezone);
  const wanted = local - (local % DAY) + minuteOfDay * MINUTE;
  const first = wanted - (wallAsUtc(wanted, timezone) - wanted);
  const second = wanted - (wallAsUtc(first, timezone) - first);
  return wallAsUtc(second, timezone) === wanted ? second : Math.max(first, second);
}

/** The instant at or before `atMs` when a daily session starting at `hhmm` (wall clock of `timezone`) last began. */
export function sessionStart(atMs: number, hhmm: string, timezone: string): number {
  const minute = Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  for (let back = 0; ; back++) {
    const start = instantOn(atMs - back * DAY, minute, timezone);
    if (start <= atMs) return start;
  }
}

/** When the session that began at `startMs` ends: the next session's start (23 to 25 hours on across DST changes). */
export function sessionEnd(startMs: number, hhmm: string, timezone: string): number {
  return sessionStart(startMs + 26 * 60 * MINUTE, hhmm, timezone);
}
