import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { byCreatedAt, ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { createRouteSchema, CreateRouteDto, routeViewSchema, updateRouteSchema, UpdateRouteDto } from './route.dto';
import { RoutesService } from './routes.service';

@ApiTags('routes')
@ApiBearerAuth()
@Controller('v1/routes')
export class RoutesController {
  constructor(private readonly routes: RoutesService) {}

  @Post()
  @RequireRole('admin')
  @ApiView(routeViewSchema, 201)
  create(@Auth() auth: AuthContext, @ValidBody(createRouteSchema) dto: CreateRouteDto) {
    return this.routes.create(auth, dto);
  }

  @Get()
  list(@Auth() auth: AuthContext, @ListQuery({ keyset: byCreatedAt, item: 'route', view: routeViewSchema }) query: ListRequest<object, TimeKey>) {
    return this.routes.list(auth, query.page);
  }

  @Patch(':id')
  @RequireRole('admin')
  @ApiView(routeViewSchema)
  update(@Auth() auth: AuthContext, @IdParam('Route') id: string, @ValidBody(updateRouteSchema) dto: UpdateRouteDto) {
    return this.routes.update(auth, id, dto);
  }

  @Delete(':id')
  @RequireRole('admin')
  @HttpCode(204)
  remove(@Auth() auth: AuthContext, @IdParam('Route') id: string) {
    return this.routes.remove(auth, id);
  }
}
