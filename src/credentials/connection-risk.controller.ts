import { Controller, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { ApiView, IdParam, ValidBody } from '../common/validation';
import { ConnectionRiskService } from './connection-risk.service';
import { connectionViewSchema } from './dto/connection.dto';
import { connectionKillSwitchSchema, ConnectionKillSwitchDto, lossLimitsSchema, LossLimitsDto } from './dto/connection-risk.dto';

@ApiTags('connections')
@ApiBearerAuth()
@Controller('v1/connections')
export class ConnectionRiskController {
  constructor(private readonly risk: ConnectionRiskService) {}

  @Put(':id/kill-switch')
  @RequireRole('admin')
  @ApiView(connectionViewSchema)
  setKillSwitch(@Auth() auth: AuthContext, @IdParam('Connection') id: string, @ValidBody(connectionKillSwitchSchema) dto: ConnectionKillSwitchDto) {
    return this.risk.setKillSwitch(auth, id, dto);
  }

  @Put(':id/loss-limits')
  @RequireRole('admin')
  @ApiView(connectionViewSchema)
  setLossLimits(@Auth() auth: AuthContext, @IdParam('Connection') id: string, @ValidBody(lossLimitsSchema) dto: LossLimitsDto) {
    return this.risk.setLossLimits(auth, id, dto);
  }
}
