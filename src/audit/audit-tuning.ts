/** Timings of the audit sealer and the pager dispatcher; tests shorten them. */
export interface AuditTuning {
  sealer: {
    intervalMs: number;
    batchSize: number;
    /** A checkpoint is signed at least every this many sealed events... */
    checkpointEvery: number;
    /** ...and at least this long after the head moved, so a quiet chain's tail is covered too. */
    checkpointMaxAgeMs: number;
  };
  dispatcher: {
    pollIntervalMs: number;
    batchSize: number;
    /** How long a claimed delivery is reserved; a crashed dispatcher's claims expire after it. */
    leaseMs: number;
    baseDelayMs: number;
    maxDelayMs: number;
    maxAttempts: number;
    timeoutMs: number;
  };
}

export const DEFAULT_AUDIT_TUNING: AuditTuning = {
  sealer: { intervalMs: 250, batchSize: 1000, checkpointEvery: 1000, checkpointMaxAgeMs: 10_000 },
  dispatcher: { pollIntervalMs: 1000, batchSize: 50, leaseMs: 60_000, baseDelayMs: 1000, maxDelayMs: 300_000, maxAttempts: 25, timeoutMs: 10_000 },
};

export const AUDIT_TUNING = Symbol('AUDIT_TUNING');
