// Connection-level failures (refused, reset, server shutting down or starting up), never a refusal of the work itself;
// P1001/P1002/P1017 are Prisma's names for the same (cannot reach, timed out, connection closed).
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'P1001',
  'P1002',
  'P1017',
]);
const UNAVAILABLE_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/** True when the error, or an error that caused it, says the database could not be reached. */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    const { code, errorCode } = current as { code?: unknown; errorCode?: unknown };
    if ([code, errorCode].some((c) => typeof c === 'string' && UNAVAILABLE_CODES.has(c))) return true;
    if (current instanceof Error && UNAVAILABLE_MESSAGES.test(current.message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
