import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BrokersModule } from '../brokers/brokers.module';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { KmsModule } from '../kms/kms.module';
import { KMS_PROVIDER, KmsProvider } from '../kms/kms-provider';
import { JOB_HANDLERS, JobRunner } from '../queue/job-runner';
import { ConnectionFlattener } from './connection-flattener';
import { ConnectionSnapshotter } from './connection-snapshotter';
import { ConnectionTasksRepository } from './connection-tasks.repository';
import { CredentialOpener } from './credential-opener';
import { ApprovalSweep } from './approval-sweep';
import { QuoteWatch } from './quote-watch';
import { WindowFlattener } from './window-flattener';
import { WindowFlattensRepository } from './window-flattens.repository';
import { ApprovalsRepository } from './approvals.repository';
import { FlattenRecovery } from './flatten-recovery';
import { LossGuard } from './loss-guard';
import { LossGuardRepository } from './loss-guard.repository';
import { ApprovalJobs } from '../orders/approval-jobs';
import { ConnectionJobs } from '../positions/connection-jobs';
import { FlattensRepository } from '../positions/flattens.repository';
import { CachingKms } from './data-key-cache';
import { OrderClaimer } from './order-claim';
import { OrderExecutor } from './order-executor';
import { OrderStreams } from './order-streams';
import { OrderStreamsRepository } from './order-streams.repository';
import { OrderSync } from './order-sync';
import { OrderSyncRepository } from './order-sync.repository';
import { RoutingRepository } from './routing.repository';
import { SignalPlanner } from './signal-plan';
import { SignalRouter } from './signal-router';

/** The worker's routing engine. The only module that may decrypt a broker credential. */
@Module({
  imports: [KmsModule.forPrincipal('worker'), BrokersModule, AuditModule],
  providers: [
    RoutingRepository,
    {
      provide: CachingKms,
      inject: [KMS_PROVIDER, APP_CONFIG],
      useFactory: (kms: KmsProvider, config: AppConfig) => new CachingKms(kms, config.kms.dataKeyCache),
    },
    CredentialOpener,
    OrderClaimer,
    OrderExecutor,
    SignalPlanner,
    SignalRouter,
    OrderSyncRepository,
    OrderSync,
    ConnectionTasksRepository,
    ConnectionSnapshotter,
    ConnectionFlattener,
    FlattenRecovery,
    FlattensRepository,
    ConnectionJobs,
    ApprovalJobs,
    LossGuardRepository,
    LossGuard,
    ApprovalsRepository,
    ApprovalSweep,
    WindowFlattener,
    WindowFlattensRepository,
    QuoteWatch,
    OrderStreamsRepository,
    OrderStreams,
    {
      provide: JOB_HANDLERS,
      inject: [SignalRouter, ConnectionSnapshotter, ConnectionFlattener],
      useFactory: (router: SignalRouter, snapshotter: ConnectionSnapshotter, flattener: ConnectionFlattener) => [router, snapshotter, flattener],
    },
    JobRunner,
  ],
  exports: [JobRunner, CredentialOpener, OrderSync, FlattenRecovery, ApprovalSweep, WindowFlattener, QuoteWatch, OrderStreams],
})
export class RoutingModule {}
