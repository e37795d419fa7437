import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam } from '../common/validation';
import type { PlatformContext } from '../common/auth/auth-context';
import { PlatformAuth, PlatformOnly } from '../common/auth/auth.decorators';
import { alertListFilters, alertOrder, alertViewSchema, PlatformAlertFilter, platformAlertViewSchema } from './dto/audit.dto';
import { Pager } from './pager/pager';

/** The platform on-call's view: alerts of every workspace; the only place security alerts are acknowledged or resolved. */
@ApiTags('platform')
@ApiBearerAuth()
@Controller('v1/platform/alerts')
@PlatformOnly()
export class PlatformAlertsController {
  constructor(private readonly pager: Pager) {}

  @Get()
  list(
    @ListQuery({ keyset: alertOrder, item: 'alert', filters: alertListFilters, view: platformAlertViewSchema })
    query: ListRequest<PlatformAlertFilter, TimeKey>,
  ) {
    return this.pager.platformList(query);
  }

  @Get(':id')
  @ApiView(platformAlertViewSchema)
  get(@IdParam('Alert') id: string) {
    return this.pager.platformGet(id);
  }

  @Post(':id/ack')
  @HttpCode(200)
  @ApiView(alertViewSchema)
  acknowledge(@PlatformAuth() caller: PlatformContext, @IdParam('Alert') id: string) {
    return this.pager.acknowledge(caller, id);
  }

  @Post(':id/resolve')
  @HttpCode(200)
  @ApiView(alertViewSchema)
  resolve(@PlatformAuth() caller: PlatformContext, @IdParam('Alert') id: string) {
    return this.pager.resolve(caller, id);
  }
}
