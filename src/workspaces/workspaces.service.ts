import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditWriter } from '../audit/audit-writer';
import { AuditEventInput, PLATFORM_WORKSPACE_ID } from '../audit/audit-event';
import { Problem } from '../common/problem';
import { TenantDb, type TenantTx } from '../database/tenant-db';
import { higherRole, roleAtLeast, type AuthContext, type PlatformContext, type Role } from '../common/auth/auth-context';
import { Prisma } from '../generated/prisma/client';
import { limitsView } from '../routes/route-limits';
import { hashPassword } from './auth/passwords';
import type {
  CreatedWorkspace,
  CreateWorkspaceDto,
  KillSwitchDto,
  LiveTradingDto,
  PlatformKillSwitchView,
  RiskLimitsDto,
  WorkspaceView,
} from './dto/workspace.dto';
import { MembersRepository } from './members.repository';
import { TokensService } from './tokens.service';
import { PlatformKillSwitchRecord, WorkspaceRecord, WorkspacesRepository } from './workspaces.repository';

// The first token sets the workspace up; it ends after a day, or once a member logs in (LoginService).
const BOOTSTRAP_TOKEN_TTL_MS = 86_400_000;

function toWorkspaceView(w: WorkspaceRecord, platform: PlatformKillSwitchRecord): WorkspaceView {
  return {
    id: w.id,
    name: w.name,
    killSwitch: { engaged: w.killSwitchEngaged, reason: w.killSwitchReason },
    platformKillSwitch: {
      engaged: platform.killSwitchEngaged,
      engagedAt: platform.killSwitchEngaged ? (platform.killSwitchChangedAt?.toISOString() ?? null) : null,
    },
    liveTradingEnabled: w.liveTradingEnabled,
    riskLimits: limitsView(w),
    approval: { mode: w.approval, expirySeconds: w.approvalExpirySeconds },
    createdAt: w.createdAt.toISOString(),
  };
}

@Injectable()
export class WorkspacesService {
  constructor(
    private readonly db: TenantDb,
    private readonly workspaces: WorkspacesRepository,
    private readonly members: MembersRepository,
    private readonly tokens: TokensService,
    private readonly audit: AuditWriter,
  ) {}

  /** A workspace, its owner, and the owner's first API token (shown once). Paper trading only until the owner says otherwise. */
  async create(caller: PlatformContext, dto: CreateWorkspaceDto): Promise<CreatedWorkspace> {
    const workspaceId = randomUUID();
    const passwordHash = dto.ownerPassword ? await hashPassword(dto.ownerPassword) : undefined;
    return this.db.run(workspaceId, async (tx) => {
      const workspace = await this.workspaces.create(tx, workspaceId, dto.name);
      const owner = await this.members.create(tx, { id: randomUUID(), workspaceId, email: dto.ownerEmail, role: 'owner', passwordHash });
      const expiresAt = new Date(Date.now() + BOOTSTRAP_TOKEN_TTL_MS);
      const token = await this.tokens.issue(tx, workspaceId, { name: 'owner bootstrap token', role: 'owner', createdBy: owner.id, bootstrap: true, expiresAt });
      const by = { actor: caller.actor, ip: caller.ip, requestId: caller.requestId };
      await this.audit.record(tx, { ...by, action: 'workspace.create', resource: { type: 'workspace', id: workspaceId }, metadata: { name: dto.name } });
      await this.audit.record(tx, { ...by, action: 'member.create', resource: { type: 'member', id: owner.id }, metadata: { role: 'owner' } });
      await this.audit.record(tx, { ...by, action: 'token.create', resource: { type: 'token', id: token.id }, metadata: { role: 'owner' } });
      const { token: value, ...tokenInfo } = token;
      return { workspace: await this.view(tx, workspace), owner: { id: owner.id, email: owner.email }, token: value, tokenInfo };
    });
  }

  async get(auth: AuthContext): Promise<WorkspaceView> {
    return this.db.run(auth.workspaceId, async (tx) => {
      const workspace = await this.workspaces.find(tx, auth.workspaceId);
      if (!workspace) throw Problem.notFound('Workspace');
      return this.view(tx, workspace);
    });
  }

  /**
   * Any trader may engage the switch; releasing it needs admin, or the highest role that engaged it if that is
   * higher (a trader cannot lift an owner's stop). A refused release is audited too.
   */
  async setKillSwitch(auth: AuthContext, dto: KillSwitchDto): Promise<WorkspaceView> {
    const refusal = await this.db.run(auth.workspaceId, async (tx) => {
      const current = await this.workspaces.findForUpdate(tx, auth.workspaceId);
      if (!current) throw Problem.notFound('Workspace');
      const engagedBy = current.killSwitchEngaged ? ((current.killSwitchEngagedRole as Role | null) ?? 'owner') : null;
      const needed = !dto.engaged && engagedBy ? higherRole('admin', engagedBy) : undefined;
      if (needed && !roleAtLeast(auth.role, needed)) {
        await this.audit.record(tx, workspaceEvent(auth, 'kill_switch.release_refused', dto.reason, { needed, role: auth.role }));
        return Problem.forbidden(
          `Releasing this kill switch needs the ${needed} role: it was engaged by ${article(engagedBy!)} ${engagedBy}.`,
          'kill_switch_release_role',
        );
      }
      const role = dto.engaged ? (engagedBy ? higherRole(engagedBy, auth.role) : auth.role) : null;
      const workspace = await this.workspaces.setKillSwitch(tx, auth.workspaceId, dto.engaged, dto.reason, role);
      await this.audit.record(tx, workspaceEvent(auth, 'kill_switch.workspace', dto.reason, { engaged: dto.engaged, ...(role && { engagedRole: role }) }));
      return this.view(tx, workspace);
    });
    // Thrown after the commit, so the refusal's audit event stays.
    if (refusal instanceof Problem) throw refusal;
    return refusal;
  }

  async setLiveTrading(auth: AuthContext, dto: LiveTradingDto): Promise<WorkspaceView> {
    return this.db.run(auth.workspaceId, async (tx) => {
      const workspace = await this.workspaces.setLiveTrading(tx, auth.workspaceId, dto.enabled);
      await this.audit.record(tx, workspaceEvent(auth, 'live_trading.change', dto.reason, { enabled: dto.enabled }));
      return this.view(tx, workspace);
    });
  }

  async setRiskLimits(auth: AuthContext, dto: RiskLimitsDto): Promise<WorkspaceView> {
    const { reason, tradingWindows, ...values } = dto;
    return this.db.run(auth.workspaceId, async (tx) => {
      const data = { ...values, ...(tradingWindows !== undefined && { tradingWindows: tradingWindows ?? Prisma.DbNull }) };
      const workspace = await this.workspaces.setRiskLimits(tx, auth.workspaceId, data);
      // The metadata names what changed; windows as their count (their text is on GET /v1/workspace).
      const metadata = { ...values, ...(tradingWindows !== undefined && { tradingWindows: tradingWindows?.length ?? null }) };
      await this.audit.record(tx, workspaceEvent(auth, 'workspace.risk_limits', reason, metadata));
      return this.view(tx, workspace);
    });
  }

  /** Platform-wide; its audit event goes on the platform chain. */
  async setPlatformKillSwitch(caller: PlatformContext, dto: KillSwitchDto): Promise<PlatformKillSwitchView> {
    const s = await this.db.run(PLATFORM_WORKSPACE_ID, async (tx) => {
      const settings = await this.workspaces.setPlatformKillSwitch(tx, dto.engaged, dto.reason);
      await this.audit.record(tx, {
        action: 'kill_switch.platform',
        actor: caller.actor,
        ip: caller.ip,
        requestId: caller.requestId,
        reason: dto.reason,
        resource: { type: 'platform' },
        metadata: { engaged: dto.engaged },
      });
      return settings;
    });
    return toPlatformKillSwitchView(s);
  }

  async platformKillSwitch(): Promise<PlatformKillSwitchView> {
    return toPlatformKillSwitchView(await this.db.run(PLATFORM_WORKSPACE_ID, (tx) => this.workspaces.platformKillSwitch(tx)));
  }

  private async view(tx: TenantTx, workspace: WorkspaceRecord): Promise<WorkspaceView> {
    return toWorkspaceView(workspace, await this.workspaces.platformKillSwitch(tx));
  }
}

function toPlatformKillSwitchView(s: PlatformKillSwitchRecord): PlatformKillSwitchView {
  return { engaged: s.killSwitchEngaged, reason: s.killSwitchReason, changedAt: s.killSwitchChangedAt?.toISOString() ?? null };
}

function workspaceEvent(
  auth: AuthContext,
  action: 'kill_switch.workspace' | 'kill_switch.release_refused' | 'live_trading.change' | 'workspace.risk_limits',
  reason: string,
  metadata: Record<string, boolean | string | number | null>,
): AuditEventInput {
  return { action, actor: auth.actor, ip: auth.ip, requestId: auth.requestId, reason, resource: { type: 'workspace', id: auth.workspaceId }, metadata };
}

function article(role: Role): string {
  return role === 'owner' || role === 'admin' ? 'an' : 'a';
}
