import { Body, Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { byCreatedAt, ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { webhookAcceptedViewSchema } from './dto/signal.dto';
import { createSourceSchema, CreateSourceDto, issuedSourceViewSchema, rotateSecretSchema, RotateSecretDto, sourceViewSchema } from './dto/source.dto';
import { SIGNAL_JSON_SCHEMA } from './signal-json-schema';
import { SourcesService } from './sources.service';

@ApiTags('sources')
@ApiBearerAuth()
@Controller('v1/sources')
export class SourcesController {
  constructor(private readonly sources: SourcesService) {}

  @Post()
  @RequireRole('admin')
  @ApiView(issuedSourceViewSchema, 201)
  create(@Auth() auth: AuthContext, @ValidBody(createSourceSchema) dto: CreateSourceDto) {
    return this.sources.create(auth, dto);
  }

  @Get()
  list(@Auth() auth: AuthContext, @ListQuery({ keyset: byCreatedAt, item: 'source', view: sourceViewSchema }) query: ListRequest<object, TimeKey>) {
    return this.sources.list(auth, query.page);
  }

  @Get(':id')
  @ApiView(sourceViewSchema)
  get(@Auth() auth: AuthContext, @IdParam('Source') id: string) {
    return this.sources.get(auth, id);
  }

  @Post(':id/rotate-secret')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiView(issuedSourceViewSchema)
  rotateSecret(@Auth() auth: AuthContext, @IdParam('Source') id: string, @ValidBody(rotateSecretSchema) dto: RotateSecretDto) {
    return this.sources.rotateSecret(auth, id, dto);
  }

  /** A signal body as a webhook would carry it; routed like one (trader and up: it places orders). */
  @Post(':id/test-signal')
  @RequireRole('trader')
  @HttpCode(202)
  @ApiBody({ schema: SIGNAL_JSON_SCHEMA as unknown as Record<string, unknown> })
  @ApiView(webhookAcceptedViewSchema, 202, 'Accepted: stored and queued like a webhook delivery.')
  testSignal(@Auth() auth: AuthContext, @IdParam('Source') id: string, @Body() body: unknown) {
    return this.sources.sendTestSignal(auth, id, body);
  }

  @Delete(':id')
  @RequireRole('admin')
  @HttpCode(204)
  async delete(@Auth() auth: AuthContext, @IdParam('Source') id: string): Promise<void> {
    await this.sources.delete(auth, id);
  }
}
