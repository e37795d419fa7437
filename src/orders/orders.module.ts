import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ApprovalJobs } from './approval-jobs';
import { ApprovalsController } from './approvals.controller';
import { ApprovalsRepository } from './approvals.repository';
import { ApprovalsService } from './approvals.service';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { PnlController } from './pnl.controller';
import { PnlService } from './pnl.service';

/** Order reads, approval decisions and realised P&L (api). The worker sends orders; nothing here touches the decrypt path. */
@Module({
  imports: [AuditModule],
  controllers: [OrdersController, ApprovalsController, PnlController],
  providers: [OrdersRepository, OrdersService, PnlService, ApprovalsRepository, ApprovalsService, ApprovalJobs],
  exports: [OrdersService],
})
export class OrdersModule {}
