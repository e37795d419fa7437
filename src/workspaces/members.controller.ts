import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { byCreatedAt, ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { changeMemberRoleSchema, ChangeMemberRoleDto, createMemberSchema, CreateMemberDto, memberViewSchema } from './dto/workspace.dto';
import { MembersService } from './members.service';

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Post()
  @RequireRole('admin')
  @ApiView(memberViewSchema, 201)
  create(@Auth() auth: AuthContext, @ValidBody(createMemberSchema) dto: CreateMemberDto) {
    return this.members.create(auth, dto);
  }

  @Get()
  list(@Auth() auth: AuthContext, @ListQuery({ keyset: byCreatedAt, item: 'member', view: memberViewSchema }) query: ListRequest<object, TimeKey>) {
    return this.members.list(auth, query.page);
  }

  @Patch(':id')
  @RequireRole('admin')
  @ApiView(memberViewSchema)
  changeRole(@Auth() auth: AuthContext, @IdParam('Member') id: string, @ValidBody(changeMemberRoleSchema) dto: ChangeMemberRoleDto) {
    return this.members.changeRole(auth, id, dto.role);
  }

  @Delete(':id')
  @RequireRole('admin')
  @HttpCode(204)
  remove(@Auth() auth: AuthContext, @IdParam('Member') id: string) {
    return this.members.remove(auth, id);
  }
}
