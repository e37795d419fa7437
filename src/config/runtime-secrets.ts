import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  const value = randomBytes(32).toString('base64url');
  try {
    await writeFile(path, value, { mode: 0o600, flag: 'wx' });
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(path, 'utf8')).trim();
    throw err;
  }
}
