import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { startWorkerLoops, WorkerModule } from '../../src/app/worker.module';
import { parseConfig } from '../../src/config/app-config';
import { createLogger } from '../../src/common/logger';
import { LogCapture, testEnv } from './api-app';
import type { TestDatabase } from './database';

export interface RunningWorker {
  app: INestApplicationContext;
  logs: LogCapture;
  close(): Promise<void>;
}

/**
 * The real worker (same module graph as src/worker.ts), in this process. Share DATA_DIR with the api for the local KMS.
 * `loops: false` builds the context without consuming the queue, for tests that drive a job themselves.
 */
export async function startWorker(db: TestDatabase, env: Record<string, string>, options: { loops?: boolean } = {}): Promise<RunningWorker> {
  const config = parseConfig(testEnv(db, env));
  const logs = new LogCapture();
  const app = await NestFactory.createApplicationContext(WorkerModule.forConfig(config, createLogger(config, 'worker', logs)), { logger: false });
  if (options.loops !== false) await startWorkerLoops(app);
  return { app, logs, close: () => app.close() };
}
