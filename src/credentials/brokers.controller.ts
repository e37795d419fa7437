import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { RequireRole } from '../common/auth/auth.decorators';
import type { Page } from '../common/pagination';
import { openApiSchema } from '../common/validation';
import { BROKER_PROFILES, brokerProfileSchema, type BrokerProfile } from '../brokers/broker-profiles';

const brokerListSchema = z.object({ items: z.array(brokerProfileSchema), nextCursor: z.null() });

@ApiTags('connections')
@ApiBearerAuth()
@Controller('v1/brokers')
export class BrokersController {
  /** Every broker, what a console form is built from: environments, credential fields, order types, brackets, inspection. */
  @Get()
  @RequireRole('viewer')
  @ApiOkResponse({ schema: openApiSchema(brokerListSchema) })
  list(): Page<BrokerProfile> {
    return { items: Object.values(BROKER_PROFILES), nextCursor: null };
  }
}
