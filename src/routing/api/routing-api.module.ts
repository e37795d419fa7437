import { Module } from '@nestjs/common';
import { AuditModule } from '../../audit/audit.module';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { PnlController } from './pnl.controller';
import { PnlService } from './pnl.service';
import { RoutesController } from './routes.controller';
import { RoutesRepository } from './routes.repository';
import { RoutesService } from './routes.service';

/** The api side of routing: routes and order reads. It never touches the decrypt path. */
@Module({
  imports: [AuditModule],
  controllers: [RoutesController, OrdersController, PnlController],
  providers: [RoutesRepository, RoutesService, OrdersRepository, OrdersService, PnlService],
  exports: [OrdersService],
})
export class RoutingApiModule {}
