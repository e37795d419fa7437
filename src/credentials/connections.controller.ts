import { Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { byCreatedAt, ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { ConnectionsService } from './connections.service';
import { connectionViewSchema, createConnectionSchema, CreateConnectionDto, rotateConnectionSchema, RotateConnectionDto } from './dto/connection.dto';

@ApiTags('connections')
@ApiBearerAuth()
@Controller('v1/connections')
export class ConnectionsController {
  constructor(private readonly connections: ConnectionsService) {}

  @Post()
  @RequireRole('admin')
  @ApiView(connectionViewSchema, 201)
  create(@Auth() auth: AuthContext, @ValidBody(createConnectionSchema) dto: CreateConnectionDto) {
    return this.connections.create(auth, dto);
  }

  @Get()
  @RequireRole('viewer')
  list(@Auth() auth: AuthContext, @ListQuery({ keyset: byCreatedAt, item: 'connection', view: connectionViewSchema }) query: ListRequest<object, TimeKey>) {
    return this.connections.list(auth, query.page);
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiView(connectionViewSchema)
  get(@Auth() auth: AuthContext, @IdParam('Connection') id: string) {
    return this.connections.get(auth, id);
  }

  @Post(':id/rotate')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiView(connectionViewSchema)
  rotate(@Auth() auth: AuthContext, @IdParam('Connection') id: string, @ValidBody(rotateConnectionSchema) dto: RotateConnectionDto) {
    return this.connections.rotate(auth, id, dto);
  }

  @Delete(':id')
  @RequireRole('admin')
  @ApiView(connectionViewSchema)
  revoke(@Auth() auth: AuthContext, @IdParam('Connection') id: string) {
    return this.connections.revoke(auth, id);
  }
}
