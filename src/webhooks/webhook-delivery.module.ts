import { Module } from '@nestjs/common';
import { OutboundModule } from '../common/outbound/outbound.module';
import { KmsModule } from '../kms/kms.module';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookDispatcher } from './webhook-dispatcher';

/** Order webhooks out, worker side: the delivery loop, the only code that opens a signing secret (worker principal). */
@Module({
  imports: [KmsModule.forPrincipal('worker'), OutboundModule],
  providers: [WebhookDeliveriesRepository, WebhookDispatcher],
  exports: [WebhookDispatcher],
})
export class WebhookDeliveryModule {}
