import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth/auth.decorators';
import { SIGNAL_JSON_SCHEMA } from './signal-json-schema';

/** Machine-readable contracts for senders: public, since whoever writes an alert needs them before holding a token. */
@ApiTags('schemas')
@Controller('v1/schemas')
@Public()
export class SchemasController {
  @Get('signal')
  @Header('content-type', 'application/schema+json')
  @ApiOkResponse({ description: 'JSON Schema (draft 2020-12) of the signal body' })
  signal() {
    return SIGNAL_JSON_SCHEMA;
  }
}
