import { Controller, Delete, Get, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { byCreatedAt, ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { createTokenSchema, CreateTokenDto, issuedTokenViewSchema, tokenViewSchema } from './dto/workspace.dto';
import { TokensService } from './tokens.service';

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('v1/tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @RequireRole('admin')
  @ApiView(issuedTokenViewSchema, 201)
  create(@Auth() auth: AuthContext, @ValidBody(createTokenSchema) dto: CreateTokenDto) {
    return this.tokens.create(auth, dto);
  }

  @Get()
  @RequireRole('admin')
  list(@Auth() auth: AuthContext, @ListQuery({ keyset: byCreatedAt, item: 'token', view: tokenViewSchema }) query: ListRequest<object, TimeKey>) {
    return this.tokens.list(auth, query.page);
  }

  @Delete(':id')
  @RequireRole('admin')
  @ApiView(tokenViewSchema)
  revoke(@Auth() auth: AuthContext, @IdParam('Token') id: string) {
    return this.tokens.revoke(auth, id);
  }
}
