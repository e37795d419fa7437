import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { PnlController } from './pnl.controller';
import { PnlService } from './pnl.service';

/** Order reads and realised P&L (api). The worker writes orders; nothing here touches the decrypt path. */
@Module({
  imports: [AuditModule],
  controllers: [OrdersController, PnlController],
  providers: [OrdersRepository, OrdersService, PnlService],
  exports: [OrdersService],
})
export class OrdersModule {}
