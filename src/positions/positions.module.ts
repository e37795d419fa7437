import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ConnectionJobs } from './connection-jobs';
import { FlattensRepository } from './flattens.repository';
import { FlattensService } from './flattens.service';
import { PositionsController } from './positions.controller';
import { SnapshotsRepository } from './snapshots.repository';
import { SnapshotsService } from './snapshots.service';

/** The api side of positions, account and flatten: it records requests and reads what the worker stored; it never calls a broker. */
@Module({
  imports: [AuditModule],
  controllers: [PositionsController],
  providers: [ConnectionJobs, SnapshotsRepository, SnapshotsService, FlattensRepository, FlattensService],
})
export class PositionsModule {}
