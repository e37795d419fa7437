import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ListQuery, ListRequest } from '../common/pagination';
import { ApiView } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { AuditReader } from './audit-reader';
import { AuditVerifier } from './audit-verifier';
import { AuditVerifyLimit } from './audit-verify-limit';
import { auditEventViewSchema, AuditListFilter, auditListFilters, auditOrder, auditVerificationViewSchema } from './dto/audit.dto';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(
    private readonly reader: AuditReader,
    private readonly verifier: AuditVerifier,
    private readonly verifyLimit: AuditVerifyLimit,
  ) {}

  @Get()
  @RequireRole('admin')
  list(
    @Auth() auth: AuthContext,
    @ListQuery({ keyset: auditOrder, item: 'audit event', filters: auditListFilters, view: auditEventViewSchema }) query: ListRequest<AuditListFilter, bigint>,
  ) {
    return this.reader.list(auth, query);
  }

  @Get('verify')
  @RequireRole('admin')
  @ApiView(auditVerificationViewSchema)
  async verify(@Auth() auth: AuthContext) {
    await this.verifyLimit.take(auth.workspaceId);
    return this.verifier.verify(auth.workspaceId, 'since_checkpoint');
  }
}
