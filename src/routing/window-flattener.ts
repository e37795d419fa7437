import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import { LOGGER } from '../common/logger';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { describeWindow, lastWindowEnd, TradingWindow, wallClock } from '../common/trading-windows';
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
/** Clocks going back repeat at most an hour of wall time in any zone today; twice that leaves room. */
const FOLD_MS = 2 * 60 * 60_000;

/**
 * The window end to flatten at, once per end. When clocks go back a wall-clock end happens twice, and only the later
 * counts: the windows read the wall clock, so the repeated hour reopens the window for entries and only its second end
 * leaves it shut. A spring-forward end that does not exist is the first wall time after it (lastWindowEnd).
 */
export function flattenableEnd(windows: TradingWindow[] | null, nowMs: number): { endMs: number; window: TradingWindow } | undefined {
  const ended = lastWindowEnd(windows, nowMs, LOOKBACK_MS);
  if (!ended) return undefined;
  const wall = wallClock(ended.endMs, ended.window.timezone);
  for (let t = ended.endMs + 60_000; t <= ended.endMs + FOLD_MS; t += 60_000) {
    const again = wallClock(t, ended.window.timezone);
    if (again.day === wall.day && again.minute === wall.minute && lastWindowEnd(windows, t, 60_000)?.endMs === t) return undefined;
  }
  return ended;
}

/**
 * `flattenAtEnd` windows: at a window's end the route's positions on its connection (the symbols its orders filled)
 * are flattened, once per end (window_flattens claims it, whichever worker looks first), audited as `flatten.request`
 * on the route. The route's own windows and its workspace's are each one list: the end counts when none of that list is open
 * (the route's list first: one flatten per end whichever list it is in).
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
      const own = flattenableEnd(route.routeWindows, nowMs);
      const ended = own ?? flattenableEnd(route.workspaceWindows, nowMs);
      if (!ended) continue;
      const whose = own ? 'route' : 'workspace';
      const at = new Date(ended.endMs).toISOString();
      const reason = `window_end: the ${whose}'s trading window ${describeWindow(ended.window)} ended at ${at}; the route's positions are flattened`;
      const made = await this.db.runRaw(route.workspaceId, (client) => this.flatten(client, route, new Date(ended.endMs), whose, reason));
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
    whose: 'route' | 'workspace',
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
      metadata: {
        flattenId,
        scope: 'route',
        connectionId: route.connectionId,
        windowEnd: windowEnd.toISOString(),
        windows: whose,
        symbols: symbols!.join(',').slice(0, 300),
      },
    });
    for (const event of flattenedApprovalEvents(actor, undefined, flattenId, ended)) await this.audit.recordRaw(client, event);
    return { flattenId, endedApprovals: ended };
  }
}
