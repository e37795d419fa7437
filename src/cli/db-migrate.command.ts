import type { AppConfig } from '../config/app-config';
import { bootstrapDatabase } from '../database/bootstrap';

/** `cli db migrate`: creates the roles and applies migrations with the privileged DATABASE_URL. */
export async function runDbMigrate(config: AppConfig, out: NodeJS.WritableStream): Promise<number> {
  if (!config.database.url) {
    out.write('DATABASE_URL (a privileged login) is required for migrations\n');
    return 2;
  }
  const result = await bootstrapDatabase(config.database.url, config.dataDir);
  out.write(result.migrations.length ? `applied: ${result.migrations.map((m) => m.name).join(', ')}\n` : 'database is up to date\n');
  return 0;
}
