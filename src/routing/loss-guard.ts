import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { PG_POOL } from '../database/database.tokens';
import type { Logger } from 'pino';
import { AuditWriter } from '../audit/audit-writer';
import { formatDecimal, parseDecimal } from '../common/decimal';
import { LOGGER } from '../common/logger';
import { sessionEnd, sessionStart } from '../common/session-boundary';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { TenantDb } from '../database/tenant-db';
import { ConnectionJobs } from '../positions/connection-jobs';
import { ApprovalJobs } from '../orders/approval-jobs';
import { FlattenedApproval, flattenedApprovalEvents, FlattensRepository } from '../positions/flattens.repository';
import { LossGuardRepository } from './loss-guard.repository';
import { LossBreach, lossBreach, sessionPnl } from './risk/loss-limits';

/** The actor of a look a quote triggered (no job: the worker's quote watch). */
const QUOTE_ACTOR = 'quote-watch';

/** What a look at a connection's loss limits found: the session's breach (new or earlier), and a flatten to queue. */
export interface LossVerdict {
  breach?: LossBreach;
  /** A flatten this look recorded (action `flatten`): queue its job once the transaction committed. */
  flatten?: { workspaceId: string; flattenId: string; connectionId: string; ended: FlattenedApproval[] };
}

/**
 * Daily loss and drawdown limits per connection. A look computes the session's P&L, records it (the high-water
 * mark for the drawdown) and, on a breach, records it once per session: the one look that records it audits
 * `connection.loss_limit_breached` and, with action `flatten`, in the same transaction records a flatten of the
 * connection and engages the connection's kill switch (audited as `flatten.request` and `connection.kill_switch`).
 * Looked at when a signal's entries are planned, after a fill is recorded, and after a new quote (QuoteWatch).
 */
@Injectable()
export class LossGuard {
  constructor(
    private readonly db: TenantDb,
    private readonly repository: LossGuardRepository,
    private readonly flattens: FlattensRepository,
    private readonly jobs: ConnectionJobs,
    private readonly approvals: ApprovalJobs,
    private readonly audit: AuditWriter,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** A look inside the caller's transaction (the plan's). */
  async look(client: PoolClient, workspaceId: string, connectionId: string, actorId: string): Promise<LossVerdict> {
    const settings = await this.repository.settings(client, connectionId);
    if (!settings) return {};
    const now = Date.now();
    const startMs = sessionStart(now, settings.sessionStart, settings.sessionTimezone);
    const session = { start: new Date(startMs), end: new Date(sessionEnd(startMs, settings.sessionStart, settings.sessionTimezone)) };
    const pnl = sessionPnl(await this.repository.inputs(client, connectionId, this.config.snapshot.maxAgeMs), session.start);
    const row = await this.repository.recordSession(client, workspaceId, connectionId, session, formatDecimal(pnl.total));
    if (row.breachedAt) return { breach: { limit: row.breachLimit!, reason: row.breachReason! } };
    const breach = lossBreach(settings, pnl, parseDecimal(row.peak), session);
    if (!breach) return {};
    const flattenId = settings.action === 'flatten' ? randomUUID() : null;
    // The session row is locked by recordSession: a concurrent look waits there and then finds the breach recorded.
    if (!(await this.repository.recordBreach(client, connectionId, session.start, { ...breach, flattenId }))) return { breach };
    const actor = { type: 'worker' as const, id: actorId };
    const resource = { type: 'connection', id: connectionId };
    await this.audit.recordRaw(client, {
      action: 'connection.loss_limit_breached',
      actor,
      resource,
      requestId: actorId,
      reason: breach.reason,
      metadata: {
        limit: breach.limit,
        action: settings.action,
        sessionPnl: formatDecimal(pnl.total),
        realizedPnl: formatDecimal(pnl.realized),
        unrealizedPnl: formatDecimal(pnl.unrealized),
        unrealizedFrom: pnl.unrealizedFrom,
        peakPnl: row.peak,
        dailyLossLimit: settings.dailyLossLimit,
        maxDrawdown: settings.maxDrawdown,
        sessionStart: session.start.toISOString(),
        sessionEnd: session.end.toISOString(),
        ...(flattenId ? { flattenId } : {}),
      },
    });
    if (!flattenId) return { breach };
    const reason = `${breach.limit} breached: ${breach.reason}`.slice(0, 500);
    const ended = await this.flattens.insert(
      client,
      workspaceId,
      { id: flattenId, scope: 'connection', reason, requestedByType: 'worker', requestedBy: actorId },
      [connectionId],
    );
    for (const event of flattenedApprovalEvents(actor, actorId, flattenId, ended)) await this.audit.recordRaw(client, event);
    await this.audit.recordRaw(client, {
      action: 'flatten.request',
      actor,
      resource,
      requestId: actorId,
      reason,
      metadata: { flattenId, scope: 'connection', connections: 1, limit: breach.limit },
    });
    await this.repository.engageKillSwitch(client, connectionId, reason, `worker:${actorId}`);
    await this.audit.recordRaw(client, {
      action: 'connection.kill_switch',
      actor,
      resource,
      requestId: actorId,
      reason,
      metadata: { engaged: true, limit: breach.limit, flattenId },
    });
    return { breach, flatten: { workspaceId, flattenId, connectionId, ended } };
  }

  /** After a fill was recorded on the connection: a look of its own, and the flatten it records queued at once. */
  async afterFill(workspaceId: string, connectionId: string, actorId: string): Promise<void> {
    try {
      const verdict = await this.db.runRaw(workspaceId, (client) => this.look(client, workspaceId, connectionId, actorId));
      await this.dispatch(verdict);
    } catch (err) {
      // The next fill or plan looks again; a flatten recorded but not queued is queued by FlattenRecovery.
      this.logger.error({ connectionId, err: (err as Error).message }, 'loss limits not checked after a fill');
    }
  }

  /**
   * A look at each loss-limited connection with a quote newer than its last look: a price alone (unrealised P&L) may
   * breach a limit with no fill or signal. Returns how many it looked at.
   */
  async afterQuotes(limit = 100): Promise<number> {
    const due = await this.repository.quotesDue(this.pool, limit);
    for (const d of due) {
      try {
        const verdict = await this.db.runRaw(d.workspaceId, async (client) => {
          const v = await this.look(client, d.workspaceId, d.connectionId, QUOTE_ACTOR);
          await this.repository.markQuotesChecked(client, d.connectionId, d.quotedAt);
          return v;
        });
        await this.dispatch(verdict);
      } catch (err) {
        this.logger.error({ connectionId: d.connectionId, err: (err as Error).message }, 'loss limits not checked after a quote');
      }
    }
    return due.length;
  }

  /** Queues the flatten a committed look recorded (FlattenRecovery queues it later if this add fails). */
  async dispatch(verdict: LossVerdict | undefined): Promise<void> {
    const f = verdict?.flatten;
    if (!f) return;
    this.logger.warn({ connectionId: f.connectionId, flattenId: f.flattenId }, 'loss limit breached: flattening the connection');
    await this.jobs
      .flatten(f.workspaceId, f.flattenId, f.connectionId)
      .catch((err: Error) => this.logger.error({ flattenId: f.flattenId, err: err.message }, 'could not enqueue the loss-limit flatten; recovery will'));
    // The orders awaiting approval it ended: their signals settle through their decisions' jobs (the approval sweep retries).
    for (const o of f.ended) await this.approvals.decided(f.workspaceId, o.signalId, o.id).catch(() => undefined);
  }
}
