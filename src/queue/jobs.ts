/**
 * Every job the system runs, with its payload. Payloads carry ids only (never secrets) and
 * always the workspace id, so a handler can open its tenant scope without a lookup.
 */
export interface JobPayloads {
  /**
   * A persisted signal to fan out to its routes. Job id = signal id. With `orderId` (job id `approval-<orderId>`):
   * a reviewer's decision on that order (or its expiry): only the orders of its route are sent, then the signal settles.
   */
  'route-signal': { workspaceId: string; signalId: string; orderId?: string };
  /** Fetch a connection's positions and account for the snapshot the api asked for. Job id = `snapshot-<requestId>`. */
  'snapshot-connection': { workspaceId: string; connectionId: string; requestId: string };
  /** Cancel one connection's open orders and close its positions for a flatten. Job id = `flatten-<flattenId>-<connectionId>`. */
  'flatten-connection': { workspaceId: string; flattenId: string; connectionId: string };
}

export type JobName = keyof JobPayloads;

/** Job ids of the connection-wide jobs: one job per request, so a second add of the same one is absorbed. */
export const snapshotJobId = (requestId: string): string => `snapshot-${requestId}`;
export const flattenJobId = (flattenId: string, connectionId: string): string => `flatten-${flattenId}-${connectionId}`;
/** One job per approval decision (approve, reject or expiry), so a second add of the same one is absorbed. */
export const approvalJobId = (orderId: string): string => `approval-${orderId}`;

/** Every job name; the worker checks at start that each has exactly one handler. */
export const JOB_NAMES: readonly JobName[] = ['route-signal', 'snapshot-connection', 'flatten-connection'];

/** Retry policy per job: exponential backoff with jitter; completed jobs are trimmed, failed ones kept for inspection. */
export const JOB_OPTIONS = {
  'route-signal': {
    attempts: 6,
    backoff: { type: 'exponential', delay: 250, jitter: 0.5 },
    removeOnComplete: { count: 10_000 },
    removeOnFail: { count: 50_000 },
  },
  // The api waits only briefly for a snapshot; a failed fetch is answered (with its error), not retried.
  'snapshot-connection': { attempts: 1, removeOnComplete: { count: 1_000 }, removeOnFail: { count: 1_000 } },
  // Closing positions must get through a broker's bad minute: retried with backoff, exactly once per symbol.
  'flatten-connection': {
    attempts: 6,
    backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
    removeOnComplete: { count: 10_000 },
    removeOnFail: { count: 10_000 },
  },
} as const satisfies Record<JobName, object>;
