import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ApprovalJobs } from '../orders/approval-jobs';
import { ConnectionJobs } from './connection-jobs';
import { FlattensRepository } from './flattens.repository';
import { FlattensService } from './flattens.service';
import { PaperQuotesController } from './paper-quotes.controller';
import { PaperQuotesRepository } from './paper-quotes.repository';
import { PaperQuotesService } from './paper-quotes.service';
import { PositionsController } from './positions.controller';
import { SnapshotsRepository } from './snapshots.repository';
import { SnapshotsService } from './snapshots.service';

/** The api side of positions, account and flatten: it records requests and reads what the worker stored; it never calls a broker. */
@Module({
  imports: [AuditModule],
  controllers: [PositionsController, PaperQuotesController],
  providers: [
    ConnectionJobs,
    ApprovalJobs,
    SnapshotsRepository,
    SnapshotsService,
    FlattensRepository,
    FlattensService,
    PaperQuotesRepository,
    PaperQuotesService,
  ],
})
export class PositionsModule {}
