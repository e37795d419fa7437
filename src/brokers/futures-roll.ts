const DAY_MS = 86_400_000;

/**
 * The n-th listed expiry (1 = front month) among those not yet within `rollDays` days of expiring: from that day on,
 * `ES1!` means the next contract, as most futures traders roll. Every futures broker resolves continuous symbols by it
 * with the one `BROKER_FUTURES_ROLL_DAYS`, so one signal means one contract whichever broker it reaches.
 */
export function chooseMaturity<M extends { expirationDate: string; archived?: boolean }>(
  maturities: M[],
  n: number,
  rollDays: number,
  now: number,
): M | undefined {
  return maturities
    .filter((m) => !m.archived && Date.parse(m.expirationDate) - rollDays * DAY_MS > now)
    .sort((a, b) => Date.parse(a.expirationDate) - Date.parse(b.expirationDate))[n - 1];
}
