import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IdParam } from '../common/validation';
import { PlatformOnly } from '../common/auth/auth.decorators';
import { AuditVerifier } from './audit-verifier';
import { AuditVerifyLimit } from './audit-verify-limit';

/** The platform on-call's full rescan of one chain: every event from the first, every checkpoint (the api's own verify starts at the last one). */
@ApiTags('platform')
@ApiBearerAuth()
@Controller('v1/platform/audit')
@PlatformOnly()
export class PlatformAuditController {
  constructor(
    private readonly verifier: AuditVerifier,
    private readonly verifyLimit: AuditVerifyLimit,
  ) {}

  @Get('verify/:id')
  @ApiOperation({
    description:
      "Verifies a workspace's audit chain from its first event (the nil id: the platform's own chain). About 45,000 events per second; rate-limited per workspace like GET /v1/audit/verify.",
  })
  async verify(@IdParam('Workspace') workspaceId: string) {
    await this.verifyLimit.take(workspaceId, 'full');
    return { workspaceId, ...(await this.verifier.verify(workspaceId, 'full')) };
  }
}
