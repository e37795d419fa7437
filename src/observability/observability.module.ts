import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { MetricsServer } from './metrics-server';

@Module({ imports: [TerminusModule.forRoot({ logger: false })], controllers: [HealthController], providers: [MetricsServer] })
export class ObservabilityModule {}
