import { join } from 'node:path';
import { runMigrations as runQueueMigrations } from 'bullmq';
import { Client } from 'pg';
import { applyMigrations, AppliedMigration } from './migrator';
import { DB_ROLES, loadOrCreateRolePasswords, RolePasswords, urlForRole } from './database-roles';

export const QUEUE_SCHEMA = 'switchyard_queue';
export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'prisma', 'migrations');

export interface BootstrapResult {
  apiUrl: string;
  workerUrl: string;
  ownerUrl: string;
  migrations: AppliedMigration[];
}

/**
 * Prepares a database with a privileged connection: creates the roles, applies our migrations
 * and the queue's schema as switchyard_owner, and grants the runtime roles what they need.
 * Idempotent; safe to run on every start.
 */
export async function bootstrapDatabase(privilegedUrl: string, dataDir: string): Promise<BootstrapResult> {
  const passwords = await loadOrCreateRolePasswords(dataDir);
  const client = new Client({ connectionString: privilegedUrl });
  await client.connect();
  try {
    await ensureRoles(client, passwords);
    await client.query(`SET ROLE ${DB_ROLES.owner}`);
    const migrations = await applyMigrations(client, MIGRATIONS_DIR);
    await runQueueMigrations(client, QUEUE_SCHEMA);
    await grantQueueSchema(client);
    await client.query('RESET ROLE');
    return {
      apiUrl: urlForRole(privilegedUrl, 'api', passwords),
      workerUrl: urlForRole(privilegedUrl, 'worker', passwords),
      ownerUrl: urlForRole(privilegedUrl, 'owner', passwords),
      migrations,
    };
  } finally {
    await client.end();
  }
}

async function ensureRoles(client: Client, passwords: RolePasswords): Promise<void> {
  const db = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0].db;
  // Roles are cluster-wide; several databases (or processes) may bootstrap at once.
  await client.query('SELECT pg_advisory_lock(727073690)');
  try {
    for (const [key, name] of Object.entries(DB_ROLES)) {
      const login = key === 'resolver' ? 'NOLOGIN' : 'LOGIN';
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
      if (exists.rowCount === 0) await client.query(`CREATE ROLE ${name}`);
      const password = key === 'resolver' ? '' : ` PASSWORD ${client.escapeLiteral(passwords[key as keyof RolePasswords])}`;
      await client.query(`ALTER ROLE ${name} ${login} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT${password}`);
    }
    const me = (await client.query<{ me: string; su: boolean }>('SELECT current_user AS me, usesuper AS su FROM pg_user WHERE usename = current_user')).rows[0];
    // A non-superuser bootstrapper (managed Postgres) must be able to SET ROLE switchyard_owner.
    if (!me.su) await client.query(`GRANT ${DB_ROLES.owner} TO ${client.escapeIdentifier(me.me)}`);
    // The owner hands SECURITY DEFINER lookups to the resolver role.
    await client.query(`GRANT ${DB_ROLES.resolver} TO ${DB_ROLES.owner}`);
  } finally {
    await client.query('SELECT pg_advisory_unlock(727073690)');
  }
  const dbIdent = client.escapeIdentifier(db);
  await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${dbIdent} TO ${DB_ROLES.api}, ${DB_ROLES.worker}`);
  await client.query(`GRANT CONNECT, CREATE ON DATABASE ${dbIdent} TO ${DB_ROLES.owner}`);
  await client.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${DB_ROLES.owner}, ${DB_ROLES.resolver}`);
  await client.query(`GRANT USAGE ON SCHEMA public TO ${DB_ROLES.api}, ${DB_ROLES.worker}`);
}

async function grantQueueSchema(client: Client): Promise<void> {
  const runtime = `${DB_ROLES.api}, ${DB_ROLES.worker}`;
  await client.query(`GRANT USAGE ON SCHEMA ${QUEUE_SCHEMA} TO ${runtime}`);
  await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${QUEUE_SCHEMA} TO ${runtime}`);
  await client.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${QUEUE_SCHEMA} TO ${runtime}`);
  await client.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${QUEUE_SCHEMA} TO ${runtime}`);
}
