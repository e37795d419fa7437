import { randomBytes } from 'node:crypto';
import { readOrCreateSecretFile } from './secret-file';
import { join } from 'node:path';
import type { AppConfig } from './app-config';

/**
 * Fills in secrets that development may leave unset, persisted under DATA_DIR so every process
 * on the machine agrees (production requires them explicitly; see app-config).
 */
export async function withDevelopmentSecrets(config: AppConfig): Promise<AppConfig> {
  if (config.auth.jwtSecret) return config;
  const jwtSecret = await readOrCreate(join(config.dataDir, 'jwt-secret'));
  return { ...config, auth: { ...config.auth, jwtSecret } };
}

async function readOrCreate(path: string): Promise<string> {
  return (await readOrCreateSecretFile(path, () => Buffer.from(randomBytes(32).toString('base64url')))).toString('utf8').trim();
}
