import { Module } from '@nestjs/common';
import { AuditModule } from '../../audit/audit.module';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { RoutesController } from './routes.controller';
import { RoutesRepository } from './routes.repository';
import { RoutesService } from './routes.service';

/** The api side of routing: routes and order reads. It never touches the decrypt path. */
@Module({
  imports: [AuditModule],
  controllers: [RoutesController, OrdersController],
  providers: [RoutesRepository, RoutesService, OrdersRepository, OrdersService],
  exports: [OrdersService],
})
export class RoutingApiModule {}
