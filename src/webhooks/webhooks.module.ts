import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { OutboundModule } from '../common/outbound/outbound.module';
import { KmsModule } from '../kms/kms.module';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/** Order webhooks out, api side: endpoints and their deliveries. It seals signing secrets as the api principal and never opens one. */
@Module({
  imports: [AuditModule, KmsModule.forPrincipal('api'), OutboundModule],
  controllers: [WebhooksController],
  providers: [WebhooksRepository, WebhooksService],
})
export class WebhooksModule {}
