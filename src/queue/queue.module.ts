import { Global, Module } from '@nestjs/common';
import { QueueConnection } from './queue-connection';

@Global()
@Module({ providers: [QueueConnection], exports: [QueueConnection] })
export class QueueModule {}
