import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { AlertListFilter, alertListFilters, alertOrder, alertViewSchema } from './dto/audit.dto';
import { Pager } from './pager/pager';

@ApiTags('alerts')
@ApiBearerAuth()
@Controller('v1/alerts')
export class AlertsController {
  constructor(private readonly pager: Pager) {}

  @Get()
  @RequireRole('admin')
  list(
    @Auth() auth: AuthContext,
    @ListQuery({ keyset: alertOrder, item: 'alert', filters: alertListFilters, view: alertViewSchema }) query: ListRequest<AlertListFilter, TimeKey>,
  ) {
    return this.pager.list(auth, query);
  }

  @Get(':id')
  @RequireRole('admin')
  @ApiView(alertViewSchema)
  get(@Auth() auth: AuthContext, @IdParam('Alert') id: string) {
    return this.pager.get(auth, id);
  }

  @Post(':id/ack')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiView(alertViewSchema)
  acknowledge(@Auth() auth: AuthContext, @IdParam('Alert') id: string) {
    return this.pager.acknowledge(auth, id);
  }

  @Post(':id/resolve')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiView(alertViewSchema)
  resolve(@Auth() auth: AuthContext, @IdParam('Alert') id: string) {
    return this.pager.resolve(auth, id);
  }
}
