/**
 * Every job the system runs, with its payload. Payloads carry ids only (never secrets) and
 * always the workspace id, so a handler can open its tenant scope without a lookup.
 */
export interface JobPayloads {
  /** A persisted signal to fan out to its routes. Job id = signal id. */
  'route-signal': { workspaceId: string; signalId: string };
}

export type JobName = keyof JobPayloads;

/** Every job name; the worker checks at start that each has exactly one handler. */
export const JOB_NAMES: readonly JobName[] = ['route-signal'];

/** Retry policy per job: exponential backoff with jitter; completed jobs are trimmed, failed ones kept for inspection. */
export const JOB_OPTIONS = {
  'route-signal': {
    attempts: 6,
    backoff: { type: 'exponential', delay: 250, jitter: 0.5 },
    removeOnComplete: { count: 10_000 },
    removeOnFail: { count: 50_000 },
  },
} as const satisfies Record<JobName, object>;
