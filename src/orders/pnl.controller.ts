import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiView, IdParam } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth } from '../common/auth/auth.decorators';
import { ConnectionPnlView, connectionPnlViewSchema, RoutePnlView, routePnlViewSchema } from './pnl.dto';
import { PnlService } from './pnl.service';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1')
export class PnlController {
  constructor(private readonly pnl: PnlService) {}

  /** Realised P&L of the connection's fills, per symbol. */
  @Get('connections/:id/pnl')
  @ApiView(connectionPnlViewSchema)
  connection(@Auth() auth: AuthContext, @IdParam('Connection') id: string): Promise<ConnectionPnlView> {
    return this.pnl.ofConnection(auth, id);
  }

  /** Realised P&L of the route's fills, per symbol. */
  @Get('routes/:id/pnl')
  @ApiView(routePnlViewSchema)
  route(@Auth() auth: AuthContext, @IdParam('Route') id: string): Promise<RoutePnlView> {
    return this.pnl.ofRoute(auth, id);
  }
}
