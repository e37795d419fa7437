import { sessionEnd, sessionStart } from '../../src/common/session-boundary';

const start = (at: string, hhmm: string, zone: string) => new Date(sessionStart(Date.parse(at), hhmm, zone)).toISOString();
const end = (at: string, hhmm: string, zone: string) => new Date(sessionEnd(sessionStart(Date.parse(at), hhmm, zone), hhmm, zone)).toISOString();

describe('session boundary', () => {
  it('starts at 00:00 UTC by default: the boundary itself belongs to the new session, a millisecond before to the old', () => {
    expect(start('2026-12-07T13:30:00Z', '00:00', 'UTC')).toBe('2026-12-07T00:00:00.000Z');
    expect(start('2026-12-07T00:00:00.000Z', '00:00', 'UTC')).toBe('2026-12-07T00:00:00.000Z');
    expect(start('2026-12-06T23:59:59.999Z', '00:00', 'UTC')).toBe('2026-12-06T00:00:00.000Z');
    expect(end('2026-12-07T13:30:00Z', '00:00', 'UTC')).toBe('2026-12-08T00:00:00.000Z');
  });

  it('follows the zone: 17:00 New York is 22:00 UTC in winter, 21:00 UTC in summer', () => {
    expect(start('2026-12-07T21:59:00Z', '17:00', 'America/New_York')).toBe('2026-12-06T22:00:00.000Z');
    expect(start('2026-12-07T22:00:00Z', '17:00', 'America/New_York')).toBe('2026-12-07T22:00:00.000Z');
    expect(start('2026-07-07T21:00:00Z', '17:00', 'America/New_York')).toBe('2026-07-07T21:00:00.000Z');
  });

  it('is DST-correct across the switch days (a 23 h and a 25 h session)', () => {
    // 2026-03-08: New York springs forward at 02:00; the session from 17:00 on the 7th (22:00 UTC) ends 17:00 on the 8th (21:00 UTC).
    expect(start('2026-03-08T12:00:00Z', '17:00', 'America/New_York')).toBe('2026-03-07T22:00:00.000Z');
    expect(end('2026-03-08T12:00:00Z', '17:00', 'America/New_York')).toBe('2026-03-08T21:00:00.000Z');
    // 2026-11-01: falls back; 00:00 local is 04:00 UTC on the 1st and 05:00 UTC on the 2nd.
    expect(start('2026-11-01T12:00:00Z', '00:00', 'America/New_York')).toBe('2026-11-01T04:00:00.000Z');
    expect(end('2026-11-01T12:00:00Z', '00:00', 'America/New_York')).toBe('2026-11-02T05:00:00.000Z');
  });

  it('reads a start inside a spring-forward gap with the offset before it (Temporal "compatible")', () => {
    // 02:30 does not exist in New York on 2026-03-08: 02:30 EST is 07:30 UTC (03:30 EDT).
    expect(start('2026-03-08T12:00:00Z', '02:30', 'America/New_York')).toBe('2026-03-08T07:30:00.000Z');
    expect(start('2026-03-08T07:29:00Z', '02:30', 'America/New_York')).toBe('2026-03-07T07:30:00.000Z');
  });
});
