import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Problem } from '../common/problem';
import { TenantDb } from '../database/tenant-db';
import type { AuthContext, PlatformContext } from './auth/auth-context';
import { hashPassword } from './auth/secrets';
import type { CreateWorkspaceDto, KillSwitchDto, LiveTradingDto } from './dto/workspace.dto';
import { MembersRepository } from './members.repository';
import { IssuedToken, TokensService } from './tokens.service';
import { WorkspaceRecord, WorkspacesRepository } from './workspaces.repository';

export interface WorkspaceView {
  id: string;
  name: string;
  killSwitch: { engaged: boolean; reason: string | null };
  liveTradingEnabled: boolean;
  createdAt: string;
}

export function toWorkspaceView(w: WorkspaceRecord): WorkspaceView {
  return {
    id: w.id,
    name: w.name,
    killSwitch: { engaged: w.killSwitchEngaged, reason: w.killSwitchReason },
    liveTradingEnabled: w.liveTradingEnabled,
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
  ) {}

  /** A workspace, its owner, and the owner's first API token (shown once). Paper trading only until the owner says otherwise. */
  async create(_caller: PlatformContext, dto: CreateWorkspaceDto): Promise<{ workspace: WorkspaceView; owner: { id: string; email: string }; token: IssuedToken }> {
    const workspaceId = randomUUID();
    const passwordHash = dto.ownerPassword ? await hashPassword(dto.ownerPassword) : undefined;
    return this.db.run(workspaceId, async (tx) => {
      const workspace = await this.workspaces.create(tx, workspaceId, dto.name);
      const owner = await this.members.create(tx, { id: randomUUID(), workspaceId, email: dto.ownerEmail, role: 'owner', passwordHash });
      const token = await this.tokens.issue(tx, workspaceId, { name: 'owner bootstrap token', role: 'owner', createdBy: owner.id });
      return { workspace: toWorkspaceView(workspace), owner: { id: owner.id, email: owner.email }, token };
    });
  }

  async get(auth: AuthContext): Promise<WorkspaceView> {
    const workspace = await this.db.run(auth.workspaceId, (tx) => this.workspaces.find(tx, auth.workspaceId));
    if (!workspace) throw Problem.notFound('Workspace');
    return toWorkspaceView(workspace);
  }

  async setKillSwitch(auth: AuthContext, dto: KillSwitchDto): Promise<WorkspaceView> {
    return toWorkspaceView(await this.db.run(auth.workspaceId, (tx) => this.workspaces.setKillSwitch(tx, auth.workspaceId, dto.engaged, dto.reason)));
  }

  async setLiveTrading(auth: AuthContext, dto: LiveTradingDto): Promise<WorkspaceView> {
    return toWorkspaceView(await this.db.run(auth.workspaceId, (tx) => this.workspaces.setLiveTrading(tx, auth.workspaceId, dto.enabled)));
  }

  async setPlatformKillSwitch(_caller: PlatformContext, dto: KillSwitchDto) {
    const s = await this.workspaces.setPlatformKillSwitch(dto.engaged, dto.reason);
    return { engaged: s.killSwitchEngaged, reason: s.killSwitchReason, changedAt: s.killSwitchChangedAt?.toISOString() ?? null };
  }
}
