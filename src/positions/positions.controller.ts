import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiView, IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { FlattenDto, flattenRequestedViewSchema, flattenSchema, flattenViewSchema } from './dto/flatten.dto';
import { AccountView, accountViewSchema, PositionsView, positionsViewSchema } from './dto/snapshot.dto';
import { FlattensService } from './flattens.service';
import { SnapshotsService } from './snapshots.service';

@ApiTags('positions')
@ApiBearerAuth()
@Controller('v1')
export class PositionsController {
  constructor(
    private readonly snapshots: SnapshotsService,
    private readonly flattens: FlattensService,
  ) {}

  /** Open positions at the broker, from the worker's snapshot (`fetchedAt`; `stale` when a fresh one could not be fetched in time). */
  @Get('connections/:id/positions')
  @ApiView(positionsViewSchema)
  positions(@Auth() auth: AuthContext, @IdParam('Connection') id: string): Promise<PositionsView> {
    return this.snapshots.positions(auth, id);
  }

  /** Equity, cash and buying power at the broker, from the worker's snapshot. */
  @Get('connections/:id/account')
  @ApiView(accountViewSchema)
  account(@Auth() auth: AuthContext, @IdParam('Connection') id: string): Promise<AccountView> {
    return this.snapshots.account(auth, id);
  }

  /** Cancel the connection's open orders and close its positions (trader or higher); 202 with the flatten id. */
  @Post('connections/:id/flatten')
  @RequireRole('trader')
  @HttpCode(202)
  @ApiView(flattenRequestedViewSchema, 202, 'Accepted')
  flattenConnection(@Auth() auth: AuthContext, @IdParam('Connection') id: string, @ValidBody(flattenSchema) dto: FlattenDto) {
    return this.flattens.flattenConnection(auth, id, dto);
  }

  /** Flatten every active connection of the workspace (trader or higher); 202 with the flatten id. */
  @Post('flatten')
  @RequireRole('trader')
  @HttpCode(202)
  @ApiView(flattenRequestedViewSchema, 202, 'Accepted')
  flattenWorkspace(@Auth() auth: AuthContext, @ValidBody(flattenSchema) dto: FlattenDto) {
    return this.flattens.flattenWorkspace(auth, dto);
  }

  /** A flatten's progress per connection, with the closing orders placed. */
  @Get('flattens/:id')
  @ApiView(flattenViewSchema)
  flatten(@Auth() auth: AuthContext, @IdParam('Flatten') id: string) {
    return this.flattens.get(auth, id);
  }
}
