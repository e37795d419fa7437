import 'reflect-metadata';
import { createApiApp } from './app/http-app';
import { loadConfigOrExit } from './config/app-config';
import { withDevelopmentSecrets } from './config/runtime-secrets';
import { stopWhenLauncherGone } from './common/launcher-watch';
import { createLogger } from './common/logger';

/** The api process: webhooks and the management API. It never decrypts a broker credential. */
async function main(): Promise<void> {
  stopWhenLauncherGone();
  const config = await withDevelopmentSecrets(loadConfigOrExit());
  const logger = createLogger(config, 'api');
  const app = await createApiApp(config, logger);
  app.enableShutdownHooks();
  await app.listen({ port: config.http.port, host: config.http.host });
  logger.info({ url: config.http.publicBaseUrl, docs: config.http.docsEnabled ? `${config.http.publicBaseUrl}/docs` : 'off' }, 'api listening');
}

void main();
