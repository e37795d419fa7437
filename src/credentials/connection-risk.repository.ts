import { Injectable } from '@nestjs/common';
import type { TenantTx } from '../database/tenant-db';
import type { LossLimitsDto } from './dto/connection-risk.dto';

export interface ConnectionRiskRow {
  connectionId: string;
  killSwitchEngaged: boolean;
  killSwitchReason: string | null;
  killSwitchBy: string | null;
  killSwitchChangedAt: Date | null;
  dailyLossLimit: string | null;
  maxDrawdown: string | null;
  lossAction: 'block' | 'flatten';
  sessionStart: string;
  sessionTimezone: string;
  /** The latest session the worker looked at (its P&L, high, breach), when there is one. */
  session: {
    start: string;
    end: string;
    pnl: string;
    peak: string;
    breachedAt: string | null;
    breachLimit: string | null;
    breachReason: string | null;
    flattenId: string | null;
  } | null;
}

const COLUMNS = `k.connection_id AS "connectionId", k.kill_switch_engaged AS "killSwitchEngaged", k.kill_switch_reason AS "killSwitchReason",
  k.kill_switch_by AS "killSwitchBy", k.kill_switch_changed_at AS "killSwitchChangedAt", k.daily_loss_limit::text AS "dailyLossLimit",
  k.max_drawdown::text AS "maxDrawdown", k.loss_action AS "lossAction", k.session_start AS "sessionStart", k.session_timezone AS "sessionTimezone",
  (SELECT json_build_object('start', s.session_start, 'end', s.session_end, 'pnl', s.last_pnl::text, 'peak', s.peak_pnl::text, 'breachedAt', s.breached_at,
          'breachLimit', s.breach_limit, 'breachReason', s.breach_reason, 'flattenId', s.flatten_id)
     FROM connection_loss_sessions s WHERE s.connection_id = k.connection_id ORDER BY s.session_start DESC LIMIT 1) AS session`;

/** The api's queries over connection_risk (the connection's kill switch and loss limits) and its sessions (read only). */
@Injectable()
export class ConnectionRiskRepository {
  async forConnections(tx: TenantTx, ids: string[]): Promise<Map<string, ConnectionRiskRow>> {
    if (ids.length === 0) return new Map();
    const rows = await tx.$queryRawUnsafe<ConnectionRiskRow[]>(`SELECT ${COLUMNS} FROM connection_risk k WHERE k.connection_id = ANY($1::uuid[])`, ids);
    return new Map(rows.map((r) => [r.connectionId, r]));
  }

  async setKillSwitch(tx: TenantTx, workspaceId: string, connectionId: string, engaged: boolean, reason: string, by: string): Promise<void> {
    await tx.$executeRawUnsafe(
      `INSERT INTO connection_risk (connection_id, workspace_id, kill_switch_engaged, kill_switch_reason, kill_switch_by, kill_switch_changed_at)
       VALUES ($1::uuid, $2::uuid, $3, $4, $5, now())
       ON CONFLICT (connection_id) DO UPDATE SET kill_switch_engaged = EXCLUDED.kill_switch_engaged, kill_switch_reason = EXCLUDED.kill_switch_reason,
         kill_switch_by = EXCLUDED.kill_switch_by, kill_switch_changed_at = EXCLUDED.kill_switch_changed_at, updated_at = now()`,
      connectionId,
      workspaceId,
      engaged,
      reason,
      by,
    );
  }

  async setLossLimits(tx: TenantTx, workspaceId: string, connectionId: string, limits: Omit<LossLimitsDto, 'reason'>): Promise<void> {
    await tx.$executeRawUnsafe(
      `INSERT INTO connection_risk (connection_id, workspace_id, daily_loss_limit, max_drawdown, loss_action, session_start, session_timezone)
       VALUES ($1::uuid, $2::uuid, $3::numeric, $4::numeric, $5, $6, $7)
       ON CONFLICT (connection_id) DO UPDATE SET daily_loss_limit = EXCLUDED.daily_loss_limit, max_drawdown = EXCLUDED.max_drawdown,
         loss_action = EXCLUDED.loss_action, session_start = EXCLUDED.session_start, session_timezone = EXCLUDED.session_timezone, updated_at = now()`,
      connectionId,
      workspaceId,
      limits.dailyLossLimit,
      limits.maxDrawdown,
      limits.action,
      limits.sessionStart,
      limits.sessionTimezone,
    );
  }
}
