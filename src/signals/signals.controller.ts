import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth } from '../common/auth/auth.decorators';
import { signalDetailViewSchema, SignalListFilter, signalListFilters, signalOrder, signalViewSchema } from './dto/signal.dto';
import { SignalsService } from './signals.service';

@ApiTags('signals')
@ApiBearerAuth()
@Controller('v1/signals')
export class SignalsController {
  constructor(private readonly signals: SignalsService) {}

  @Get()
  list(
    @Auth() auth: AuthContext,
    @ListQuery({ keyset: signalOrder, item: 'signal', filters: signalListFilters, view: signalViewSchema }) query: ListRequest<SignalListFilter, TimeKey>,
  ) {
    return this.signals.list(auth, query);
  }

  @Get(':id')
  @ApiView(signalDetailViewSchema)
  get(@Auth() auth: AuthContext, @IdParam('Signal') id: string) {
    return this.signals.get(auth, id);
  }
}
