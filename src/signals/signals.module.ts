import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { OrdersModule } from '../orders/orders.module';
import { KmsModule } from '../kms/kms.module';
import { EnqueuedMarker } from './enqueued-marker';
import { HooksController } from './hooks.controller';
import { SchemasController } from './schemas.controller';
import { SignalIntakeService } from './signal-intake.service';
import { SignalQueue } from './signal-queue';
import { SignalRecoverySweep } from './signal-recovery.sweep';
import { SignalsController } from './signals.controller';
import { SignalsRepository } from './signals.repository';
import { SignalsService } from './signals.service';
import { SignatureFailureMonitor } from './signature-failure-monitor';
import { SourcesController } from './sources.controller';
import { SourcesRepository } from './sources.repository';
import { SourcesService } from './sources.service';
import { WebhookKeyring } from './webhook-keyring';
import { WebhookRateLimiter } from './webhook-rate-limiter';

/**
 * Signal ingestion for the api: sources, webhooks (persist, enqueue, 202), the recovery sweep and the
 * read API. It holds the KMS as the api principal: it opens webhook secrets, never broker credentials.
 */
@Module({
  imports: [AuditModule, KmsModule.forPrincipal('api'), OrdersModule],
  controllers: [SourcesController, HooksController, SignalsController, SchemasController],
  providers: [
    SourcesRepository,
    SourcesService,
    SignalsRepository,
    SignalsService,
    SignalIntakeService,
    SignalQueue,
    EnqueuedMarker,
    SignalRecoverySweep,
    SignatureFailureMonitor,
    WebhookKeyring,
    WebhookRateLimiter,
  ],
})
export class SignalsModule {}
