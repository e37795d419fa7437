import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { IdParam } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth } from '../common/auth/auth.decorators';
import { PnlService } from './pnl.service';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1')
export class PnlController {
  constructor(private readonly pnl: PnlService) {}

  /** Realised P&L of the connection's fills, per symbol. */
  @Get('connections/:id/pnl')
  connection(@Auth() auth: AuthContext, @IdParam('Connection') id: string) {
    return this.pnl.ofConnection(auth, id);
  }

  /** Realised P&L of the route's fills, per symbol. */
  @Get('routes/:id/pnl')
  route(@Auth() auth: AuthContext, @IdParam('Route') id: string) {
    return this.pnl.ofRoute(auth, id);
  }
}
