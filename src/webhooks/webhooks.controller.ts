import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { byCreatedAt, ListQuery, ListRequest, TimeKey } from '../common/pagination';
import { ApiView, IdParam, ValidBody } from '../common/validation';
import type { AuthContext } from '../common/auth/auth-context';
import { Auth, RequireRole } from '../common/auth/auth.decorators';
import {
  CreateWebhookDto,
  createWebhookSchema,
  DeliveryListFilter,
  deliveryListFilters,
  deliveryViewSchema,
  issuedWebhookViewSchema,
  RotateWebhookSecretDto,
  rotateWebhookSecretSchema,
  UpdateWebhookDto,
  updateWebhookSchema,
  webhookViewSchema,
} from './dto/webhook.dto';
import { WebhooksService } from './webhooks.service';

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @RequireRole('admin')
  @ApiView(issuedWebhookViewSchema, 201)
  create(@Auth() auth: AuthContext, @ValidBody(createWebhookSchema) dto: CreateWebhookDto) {
    return this.webhooks.create(auth, dto);
  }

  @Get()
  list(@Auth() auth: AuthContext, @ListQuery({ keyset: byCreatedAt, item: 'webhook endpoint', view: webhookViewSchema }) query: ListRequest<object, TimeKey>) {
    return this.webhooks.list(auth, query.page);
  }

  @Get(':id')
  @ApiView(webhookViewSchema)
  get(@Auth() auth: AuthContext, @IdParam('Webhook') id: string) {
    return this.webhooks.get(auth, id);
  }

  /** Disables an endpoint for a while (its receiver is down for maintenance) or enables it again. */
  @Patch(':id')
  @RequireRole('admin')
  @ApiView(webhookViewSchema)
  update(@Auth() auth: AuthContext, @IdParam('Webhook') id: string, @ValidBody(updateWebhookSchema) dto: UpdateWebhookDto) {
    return this.webhooks.update(auth, id, dto);
  }

  @Get(':id/deliveries')
  deliveries(
    @Auth() auth: AuthContext,
    @IdParam('Webhook') id: string,
    @ListQuery({ keyset: byCreatedAt, item: 'delivery', filters: deliveryListFilters, view: deliveryViewSchema })
    query: ListRequest<DeliveryListFilter, TimeKey>,
  ) {
    return this.webhooks.deliveries(auth, id, query);
  }

  /** Sends a failed delivery again (same webhook-id, a fresh set of attempts), e.g. after the receiver was down for long. */
  @Post(':id/deliveries/:deliveryId/retry')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiView(deliveryViewSchema)
  retry(@Auth() auth: AuthContext, @IdParam('Webhook') id: string, @IdParam('Delivery', 'deliveryId') deliveryId: string) {
    return this.webhooks.retryDelivery(auth, id, deliveryId);
  }

  @Post(':id/rotate-secret')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiView(issuedWebhookViewSchema)
  rotateSecret(@Auth() auth: AuthContext, @IdParam('Webhook') id: string, @ValidBody(rotateWebhookSecretSchema) dto: RotateWebhookSecretDto) {
    return this.webhooks.rotateSecret(auth, id, dto);
  }

  @Delete(':id')
  @RequireRole('admin')
  @HttpCode(204)
  async delete(@Auth() auth: AuthContext, @IdParam('Webhook') id: string): Promise<void> {
    await this.webhooks.delete(auth, id);
  }
}
