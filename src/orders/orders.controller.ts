import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { byCreatedAt, ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth } from '../common/auth/auth.decorators';
import { OrdersService } from './orders.service';
import { orderDetailViewSchema, OrderListFilter, orderListFilters, orderViewSchema } from './order.dto';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Get()
  list(
    @Auth() auth: AuthContext,
    @ListQuery({ keyset: byCreatedAt, item: 'order', filters: orderListFilters, view: orderViewSchema }) query: ListRequest<OrderListFilter, TimeKey>,
  ) {
    return this.orders.list(auth, query);
  }

  @Get(':id')
  @ApiView(orderDetailViewSchema)
  get(@Auth() auth: AuthContext, @IdParam('Order') id: string) {
    return this.orders.get(auth, id);
  }
}
