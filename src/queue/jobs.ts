/**
 * Every job the system runs, with its payload. Payloads carry ids only (never secrets) and
 * always the workspace id, so a handler can open its tenant scope without a lookup.
 */
export interface JobPayloads {
  /** A persisted signal to fan out to its routes. Job id = signal id. */
  'route-signal': { workspaceId: string; signalId: string };
}

export type JobName = keyof JobPayloads;

export const QUEUE_NAMES = {
  signals: 'route-signal',
} as const satisfies Record<string, JobName>;
