import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { IdParam, ValidQuery } from '../../common/validation';
import type { AuthContext } from '../../workspaces/auth/auth-context';
import { Auth } from '../../workspaces/auth/auth.decorators';
import { OrdersService } from './orders.service';
import { listOrdersSchema, ListOrdersDto } from './route.dto';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Get()
  list(@Auth() auth: AuthContext, @ValidQuery(listOrdersSchema) filter: ListOrdersDto) {
    return this.orders.list(auth, filter);
  }

  @Get(':id')
  get(@Auth() auth: AuthContext, @IdParam('Order') id: string) {
    return this.orders.get(auth, id);
  }
}
