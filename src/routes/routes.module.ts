import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { RoutesController } from './routes.controller';
import { RoutesRepository } from './routes.repository';
import { RoutesService } from './routes.service';

/** Route management (api): which source goes to which connection, sized and limited how. */
@Module({
  imports: [AuditModule],
  controllers: [RoutesController],
  providers: [RoutesRepository, RoutesService],
})
export class RoutesModule {}
