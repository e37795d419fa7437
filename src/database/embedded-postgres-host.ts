import { loadConfigOrExit } from '../config/app-config';
import { createLogger } from '../common/logger';
import { startEmbeddedPostgres } from './embedded-postgres';

/**
 * `npm start`'s embedded PostgreSQL, run by the launcher in a process group of its own: a terminal's
 * Ctrl-C reaches the api and the worker, and the launcher stops the database only after they drained.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit('cli');
  const logger = createLogger(config, 'database');
  const database = await startEmbeddedPostgres(config.dataDir, logger).catch((err: unknown) => {
    logger.error({ err }, 'embedded PostgreSQL did not start');
    process.exit(1);
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await database.stop();
    process.exit(0);
  };
  process.on('message', (message) => message === 'stop' && void stop());
  process.on('disconnect', () => void stop()); // the launcher is gone
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.send!({ privilegedUrl: database.privilegedUrl });
}

void main();
