import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import { PaperQuotesDto, paperQuotesSchema } from './dto/paper-quotes.dto';
import { PaperQuotesService } from './paper-quotes.service';

@ApiTags('positions')
@ApiBearerAuth()
@Controller('v1/connections')
export class PaperQuotesController {
  constructor(private readonly quotes: PaperQuotesService) {}

  /** Prices for a paper connection (trader or higher); resting paper orders they cross fill, seen through the order lifecycle. */
  @Post(':id/paper/quotes')
  @RequireRole('trader')
  @HttpCode(202)
  post(@Auth() auth: AuthContext, @IdParam('Connection') id: string, @ValidBody(paperQuotesSchema) dto: PaperQuotesDto) {
    return this.quotes.post(auth, id, dto);
  }
}
