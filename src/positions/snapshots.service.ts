import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import type { AccountSummary, HeldPosition } from '../brokers/broker-adapter';
import { LOGGER } from '../common/logger';
import { Problem } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext } from '../common/auth/auth-context';
import { ConnectionJobs } from './connection-jobs';
import { SnapshotRow, SnapshotsRepository } from './snapshots.repository';

/** How often a waiting request looks for the worker's answer. */
const ANSWER_POLL_MS = 25;

interface SnapshotView {
  connectionId: string;
  fetchedAt: string;
  /** True when the worker could not fetch a fresh one in time: this is the last one it did fetch. */
  stale: boolean;
  /** Why the latest fetch failed, when it did. */
  error?: string;
}

/**
 * Positions and account of a connection from the worker's snapshot: the api never calls a broker (it cannot
 * decrypt). A snapshot older than SNAPSHOT_MAX_AGE_MS is asked for again (a `snapshot-connection` job) and
 * awaited up to SNAPSHOT_WAIT_MS; then the last one is answered marked `stale`, or 503 when there is none.
 */
@Injectable()
export class SnapshotsService {
  constructor(
    private readonly db: TenantDb,
    private readonly repository: SnapshotsRepository,
    private readonly jobs: ConnectionJobs,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async positions(auth: AuthContext, connectionId: string): Promise<SnapshotView & { positions: HeldPosition[] }> {
    const { view, snapshot } = await this.current(auth, connectionId);
    return { ...view, positions: snapshot.positions! };
  }

  async account(auth: AuthContext, connectionId: string): Promise<SnapshotView & { account: AccountSummary }> {
    const { view, snapshot } = await this.current(auth, connectionId);
    return { ...view, account: snapshot.account! };
  }

  private async current(auth: AuthContext, connectionId: string): Promise<{ view: SnapshotView; snapshot: SnapshotRow }> {
    const { maxAgeMs, waitMs } = this.config.snapshot;
    const state = await this.db.runRaw(auth.workspaceId, (client) => this.repository.state(client, connectionId));
    if (!state) throw Problem.notFound('Connection');
    if (state.connectionStatus !== 'active') {
      throw new Problem(410, 'connection_revoked', 'Gone', 'The connection is revoked: its positions and account are no longer read from the broker.');
    }
    const last = state.snapshot;
    if (last?.fetchedAt && Date.now() - last.fetchedAt.getTime() <= maxAgeMs) return { view: toView(connectionId, last, false), snapshot: last };

    const answer = await this.ask(auth, connectionId, last, waitMs);
    if (answer?.fetchedAt && !answer.error) return { view: toView(connectionId, answer, false), snapshot: answer };
    const fallback = answer?.fetchedAt ? answer : last;
    if (fallback?.fetchedAt) return { view: toView(connectionId, fallback, true, answer?.error ?? undefined), snapshot: fallback };
    const why = answer?.error ? `the broker could not be read (${answer.error})` : 'the worker did not fetch one in time';
    throw Problem.unavailable('snapshot_unavailable', `There is no snapshot of this connection yet: ${why}. Try again shortly.`);
  }

  /**
   * Asks the worker for a snapshot (unless a request made within the wait is still unanswered: its answer serves this
   * caller too) and waits for the answer; undefined when none came in time.
   */
  private async ask(auth: AuthContext, connectionId: string, last: SnapshotRow | undefined, waitMs: number): Promise<SnapshotRow | undefined> {
    const pending = last?.requestId && last.requestId !== last.answeredRequestId && last.requestedAt && Date.now() - last.requestedAt.getTime() < waitMs;
    const requestId = pending ? last.requestId! : randomUUID();
    let requestedAt = pending ? last.requestedAt! : undefined;
    if (!requestedAt) {
      requestedAt = await this.db.runRaw(auth.workspaceId, (client) => this.repository.request(client, auth.workspaceId, connectionId, requestId));
      try {
        await this.jobs.snapshot(auth.workspaceId, connectionId, requestId);
      } catch (err) {
        this.logger.warn({ connectionId, err: (err as Error).message }, 'could not enqueue a snapshot request');
        return undefined;
      }
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      const answer = await this.db.runRaw(auth.workspaceId, (client) => this.repository.answered(client, connectionId, requestId, requestedAt));
      if (answer || Date.now() >= deadline) return answer;
      await sleep(ANSWER_POLL_MS);
    }
  }
}

function toView(connectionId: string, snapshot: SnapshotRow, stale: boolean, error?: string): SnapshotView {
  return { connectionId, fetchedAt: snapshot.fetchedAt!.toISOString(), stale, ...(error ? { error } : {}) };
}
