import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import { LOGGER } from '../common/logger';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { describeWindow, lastWindowEnd } from '../common/trading-windows';
import { PG_POOL } from '../database/database.tokens';
import { TenantDb } from '../database/tenant-db';
import { ConnectionJobs } from '../positions/connection-jobs';
import { ApprovalJobs } from '../orders/approval-jobs';
import { FlattenedApproval, flattenedApprovalEvents, FlattensRepository } from '../positions/flattens.repository';
import { WindowFlattenRoute, WindowFlattensRepository } from './window-flattens.repository';

const EVERY_MS = 15_000;
/** A window end further back than this (the workers were all down) is let go: flattening hours later would surprise. */
const LOOKBACK_MS = 10 * 60_000;
const ACTOR = 'window-flattener';

/**
 * `flattenAtEnd` windows: at a window's end the route's positions on its connection (the symbols its orders filled)
 * are flattened, once per end (window_flattens claims it, whichever worker looks first), audited as `flatten.request`
 * on the route. The route's own windows and its workspace's are each one list: the end counts when none of that list is open.
 */
@Injectable()
export class WindowFlattener extends LoopingService {
  protected readonly loop: PollingLoop;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly db: TenantDb,
    private readonly repository: WindowFlattensRepository,
    private readonly flattens: FlattensRepository,
    private readonly jobs: ConnectionJobs,
    private readonly approvals: ApprovalJobs,
    private readonly audit: AuditWriter,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
    this.loop = new PollingLoop('window flattener', logger, async () => (await this.sweep(), EVERY_MS), EVERY_MS);
  }

  /** One look at `nowMs`; returns the flattens it queued. */
  async sweep(nowMs = Date.now()): Promise<number> {
    let queued = 0;
    for (const route of await this.repository.routes(this.pool)) {
      const ended = lastWindowEnd(route.routeWindows, nowMs, LOOKBACK_MS) ?? lastWindowEnd(route.workspaceWindows, nowMs, LOOKBACK_MS);
      if (!ended) continue;
      const at = new Date(ended.endMs).toISOString();
      const reason = `window_end: the trading window ${describeWindow(ended.window)} ended at ${at}; the route's positions are flattened`;
      const made = await this.db.runRaw(route.workspaceId, (client) => this.flatten(client, route, new Date(ended.endMs), reason));
      if (!made) continue;
      const { flattenId, endedApprovals } = made;
      this.logger.info({ routeId: route.routeId, flattenId }, 'trading window ended: flattening the route');
      await this.jobs
        .flatten(route.workspaceId, flattenId, route.connectionId)
        .catch((err: Error) => this.logger.error({ flattenId, err: err.message }, 'could not enqueue the window-end flatten; recovery will'));
      for (const o of endedApprovals) await this.approvals.decided(route.workspaceId, o.signalId, o.id).catch(() => undefined);
      queued++;
    }
    return queued;
  }

  private async flatten(
    client: PoolClient,
    route: WindowFlattenRoute,
    windowEnd: Date,
    reason: string,
  ): Promise<{ flattenId: string; endedApprovals: FlattenedApproval[] } | undefined> {
    const symbols = await this.repository.routeSymbols(client, route.routeId, route.connectionId);
    const flattenId = symbols?.length ? randomUUID() : null;
    // Claimed even when there is nothing to close, so the end is looked at once.
    if (!(await this.repository.claim(client, route.workspaceId, route.routeId, windowEnd, flattenId)) || !flattenId) return undefined;
    const actor = { type: 'worker' as const, id: ACTOR };
    const flatten = { id: flattenId, scope: 'route' as const, reason, requestedByType: 'worker', requestedBy: ACTOR };
    const ended = await this.flattens.insert(client, route.workspaceId, flatten, [route.connectionId], { routeId: route.routeId, symbols: symbols! });
    await this.audit.recordRaw(client, {
      action: 'flatten.request',
      actor,
      resource: { type: 'route', id: route.routeId },
      reason,
      metadata: { flattenId, scope: 'route', connectionId: route.connectionId, windowEnd: windowEnd.toISOString(), symbols: symbols!.join(',').slice(0, 300) },
    });
    for (const event of flattenedApprovalEvents(actor, undefined, flattenId, ended)) await this.audit.recordRaw(client, event);
    return { flattenId, endedApprovals: ended };
  }
}
