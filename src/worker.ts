import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { startWorkerLoops, WorkerModule } from './app/worker.module';
import { loadConfigOrExit } from './config/app-config';
import { stopWhenLauncherGone } from './common/launcher-watch';
import { createLogger, NestPinoLogger } from './common/logger';

/** The worker process: routes signals to brokers, seals the audit chain, delivers pages. SIGTERM lets in-flight jobs finish first. */
async function main(): Promise<void> {
  stopWhenLauncherGone();
  const config = loadConfigOrExit('worker');
  const logger = createLogger(config, 'worker');
  const app = await NestFactory.createApplicationContext(WorkerModule.forConfig(config, logger), { logger: new NestPinoLogger(logger) });
  app.enableShutdownHooks();
  await startWorkerLoops(app);
}

void main();
