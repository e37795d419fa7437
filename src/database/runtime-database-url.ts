import type { AppConfig } from '../config/app-config';
import { loadOrCreateRolePasswords, RuntimeRole, urlForRole } from './database-roles';

/**
 * The URL a runtime process logs in with: DATABASE_API_URL / DATABASE_WORKER_URL when given,
 * else DATABASE_URL's host with the role's own login (passwords kept in DATA_DIR by the bootstrap).
 * The runtime never uses the privileged URL itself.
 */
export async function runtimeDatabaseUrl(config: AppConfig, role: RuntimeRole): Promise<string> {
  const explicit = role === 'api' ? config.database.apiUrl : config.database.workerUrl;
  if (explicit) return explicit;
  if (!config.database.url) {
    throw new Error(`no database configured for the ${role}: set DATABASE_URL (bootstrap) or DATABASE_${role.toUpperCase()}_URL, or use npm start`);
  }
  return urlForRole(config.database.url, role, await loadOrCreateRolePasswords(config.dataDir));
}
