import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadConfigOrExit, processEnvironment } from './config/app-config';
import { withDevelopmentSecrets } from './config/runtime-secrets';
import { createLogger } from './common/logger';
import { SERVICE_NODE_FLAGS } from './common/service-node-flags';
import { bootstrapDatabase } from './database/bootstrap';
import { EmbeddedDatabase, startDetachedEmbeddedPostgres } from './database/embedded-postgres';

const RESTART_WINDOW_MS = 60_000;
const MAX_RESTARTS = 5;

/**
 * `npm start`: prepares the database (embedded PostgreSQL when DATABASE_URL is unset), then runs
 * the api and the worker as two processes with runtime-role logins only, restarting a crashed one.
 * Both hold an IPC channel to it and stop when it closes, so a killed launcher leaves nothing running.
 */
async function main(): Promise<void> {
  const config = await withDevelopmentSecrets(loadConfigOrExit());
  const logger = createLogger(config, 'launcher');
  let embedded: EmbeddedDatabase | undefined;
  const privilegedUrl = config.database.url ?? (embedded = await startDetachedEmbeddedPostgres()).privilegedUrl;
  const db = await bootstrapDatabase(privilegedUrl, config.dataDir);
  logger.info({ migrations: db.migrations.map((m) => m.name), embedded: Boolean(embedded) }, 'database ready');

  let platformToken = config.auth.platformAdminToken;
  if (!platformToken) {
    platformToken = `syp_${randomBytes(32).toString('base64url')}`;
    process.stdout.write(`\nPlatform admin token (shown once; set PLATFORM_ADMIN_TOKEN to choose your own):\n  ${platformToken}\n\n`);
  }
  // Neither child holds the privileged login; each holds only its own (issue 19, finding 3).
  const secrets = {
    databaseApiUrl: config.database.apiUrl ?? db.apiUrl,
    databaseWorkerUrl: config.database.workerUrl ?? db.workerUrl,
    jwtSecret: config.auth.jwtSecret,
    platformAdminToken: platformToken,
  };

  const children = new Map<string, ChildProcess>();
  const restarts: Record<string, number[]> = { api: [], worker: [] };
  let stopping = false;

  const run = (name: 'api' | 'worker') => {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(__dirname, name === 'api' ? 'main.js' : 'worker.js')], {
      env: processEnvironment(name, secrets),
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    });
    children.set(name, child);
    child.on('exit', (code, signal) => {
      children.delete(name);
      if (stopping) return;
      const now = Date.now();
      restarts[name] = restarts[name].filter((t) => now - t < RESTART_WINDOW_MS).concat(now);
      if (restarts[name].length > MAX_RESTARTS) {
        logger.error({ process: name, code, signal }, 'crashing repeatedly; stopping');
        void shutdown(1);
        return;
      }
      logger.warn({ process: name, code, signal }, 'exited unexpectedly; restarting');
      setTimeout(() => run(name), 500);
    });
  };

  const shutdown = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping');
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await embedded?.stop();
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  run('api');
  run('worker');
  process.stdout.write(
    `Switchyard is starting at ${config.http.publicBaseUrl}${config.http.docsEnabled ? ` (API docs: ${config.http.publicBaseUrl}/docs)` : ''}\n`,
  );
}

// A start-up failure is one readable line (its cause was logged where it happened), not a stack trace.
main().catch((err: unknown) => {
  process.stderr.write(`switchyard did not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
