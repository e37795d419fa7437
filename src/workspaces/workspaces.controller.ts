import { Controller, Get, HttpCode, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiView, ValidBody } from '../common/validation';
import type { AuthContext, PlatformContext } from '../common/auth/auth-context';
import { Auth, PlatformAuth, PlatformOnly, RequireRole } from '../common/auth/auth.decorators';
import {
  createdWorkspaceViewSchema,
  createWorkspaceSchema,
  CreateWorkspaceDto,
  killSwitchSchema,
  KillSwitchDto,
  liveTradingSchema,
  LiveTradingDto,
  platformKillSwitchViewSchema,
  riskLimitsSchema,
  RiskLimitsDto,
  workspaceViewSchema,
} from './dto/workspace.dto';
import { WorkspacesService } from './workspaces.service';

@ApiTags('workspaces')
@ApiBearerAuth()
@Controller('v1')
export class WorkspacesController {
  constructor(private readonly workspaces: WorkspacesService) {}

  @Post('workspaces')
  @PlatformOnly()
  @ApiView(createdWorkspaceViewSchema, 201)
  create(@PlatformAuth() caller: PlatformContext, @ValidBody(createWorkspaceSchema) dto: CreateWorkspaceDto) {
    return this.workspaces.create(caller, dto);
  }

  @Get('workspace')
  @ApiView(workspaceViewSchema)
  get(@Auth() auth: AuthContext) {
    return this.workspaces.get(auth);
  }

  @Put('workspace/kill-switch')
  @RequireRole('trader')
  @ApiView(workspaceViewSchema)
  setKillSwitch(@Auth() auth: AuthContext, @ValidBody(killSwitchSchema) dto: KillSwitchDto) {
    return this.workspaces.setKillSwitch(auth, dto);
  }

  @Put('workspace/live-trading')
  @RequireRole('owner')
  @ApiView(workspaceViewSchema)
  setLiveTrading(@Auth() auth: AuthContext, @ValidBody(liveTradingSchema) dto: LiveTradingDto) {
    return this.workspaces.setLiveTrading(auth, dto);
  }

  @Put('workspace/risk-limits')
  @RequireRole('admin')
  @ApiView(workspaceViewSchema)
  setRiskLimits(@Auth() auth: AuthContext, @ValidBody(riskLimitsSchema) dto: RiskLimitsDto) {
    return this.workspaces.setRiskLimits(auth, dto);
  }

  @Get('platform/kill-switch')
  @PlatformOnly()
  @ApiView(platformKillSwitchViewSchema)
  platformKillSwitch() {
    return this.workspaces.platformKillSwitch();
  }

  @Put('platform/kill-switch')
  @PlatformOnly()
  @HttpCode(200)
  @ApiView(platformKillSwitchViewSchema)
  setPlatformKillSwitch(@PlatformAuth() caller: PlatformContext, @ValidBody(killSwitchSchema) dto: KillSwitchDto) {
    return this.workspaces.setPlatformKillSwitch(caller, dto);
  }
}
