import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { ApproveOrderDto, approveOrderSchema, RejectOrderDto, rejectOrderSchema } from './approval.dto';
import { ApprovalsService } from './approvals.service';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1/orders')
export class ApprovalsController {
  constructor(private readonly approvals: ApprovalsService) {}

  /** Let an order awaiting approval go (trader or higher); 409 `order_not_awaiting_approval` once decided or expired. */
  @Post(':id/approve')
  @RequireRole('trader')
  @HttpCode(200)
  approve(@Auth() auth: AuthContext, @IdParam('Order') id: string, @ValidBody(approveOrderSchema) dto: ApproveOrderDto) {
    return this.approvals.approve(auth, id, dto);
  }

  /** Refuse an order awaiting approval, with the reason (trader or higher); it ends `rejected`, never sent. */
  @Post(':id/reject')
  @RequireRole('trader')
  @HttpCode(200)
  reject(@Auth() auth: AuthContext, @IdParam('Order') id: string, @ValidBody(rejectOrderSchema) dto: RejectOrderDto) {
    return this.approvals.reject(auth, id, dto);
  }
}
