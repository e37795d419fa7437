import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AlertsController } from './alerts.controller';
import { PlatformAlertsController } from './platform-alerts.controller';
import { PlatformAuditController } from './platform-audit.controller';
import { AuditCheckpointSigner } from './audit-checkpoint-signer';
import { AuditReader } from './audit-reader';
import { AuditSealer } from './audit-sealer';
import { AUDIT_TUNING, AuditTuning, DEFAULT_AUDIT_TUNING } from './audit-tuning';
import { AuditVerifier } from './audit-verifier';
import { AuditVerifyLimit } from './audit-verify-limit';
import { AuditWriter } from './audit-writer';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { AlertOpener } from './pager/alert-opener';
import { AlertsRepository } from './pager/alerts.repository';
import { Pager } from './pager/pager';
import { PAGER_CHANNELS } from './pager/pager-channel';
import { createPagerChannels } from './pager/pager-channels';
import { PagerDispatcher } from './pager/pager-dispatcher';

/**
 * Audit trail and paging. Other modules use AuditWriter (inside their transactions) and Pager.
 * The entrypoints start the background loops they host: AuditSealer.start(), PagerDispatcher.start().
 */
@Module({
  controllers: [AuditController, AlertsController, PlatformAlertsController, PlatformAuditController],
  providers: [
    { provide: AUDIT_TUNING, useValue: DEFAULT_AUDIT_TUNING },
    { provide: AuditCheckpointSigner, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new AuditCheckpointSigner(config.dataDir) },
    {
      provide: PAGER_CHANNELS,
      inject: [APP_CONFIG, AUDIT_TUNING, LOGGER],
      useFactory: (config: AppConfig, tuning: AuditTuning, logger: Logger) => createPagerChannels(config, tuning.dispatcher.timeoutMs, logger),
    },
    AuditRepository,
    AlertsRepository,
    AlertOpener,
    AuditWriter,
    AuditSealer,
    AuditVerifier,
    AuditVerifyLimit,
    AuditReader,
    Pager,
    PagerDispatcher,
  ],
  exports: [AuditWriter, Pager, AuditVerifier, AuditSealer, PagerDispatcher],
})
export class AuditModule {}
