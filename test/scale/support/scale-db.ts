import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { bootstrapDatabase } from '../../../src/database/bootstrap';
import { DB_ROLES, RolePasswords } from '../../../src/database/database-roles';
import { ADMIN_URL, databaseUrl, dropDatabase } from '../../support/database';

export interface ScaleDatabase {
  name: string;
  /** Superuser, directly on PostgreSQL: setup and assertions only. */
  adminUrl: string;
  /** The DATA_DIR whose db-roles.json holds the role passwords (shared by every process of the test). */
  dataDir: string;
  passwords: RolePasswords;
  host: string;
  port: number;
  drop(): Promise<void>;
}

/** A fresh database bootstrapped directly against PostgreSQL (roles, grants, migrations, queue schema). */
export async function createScaleDatabase(label: string): Promise<ScaleDatabase> {
  const name = `sy_${label}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const dataDir = mkdtempSync(join(tmpdir(), `switchyard-${label}-`));
  try {
    await bootstrapDatabase(databaseUrl(name), dataDir);
  } catch (err) {
    await dropDatabase(name);
    throw err;
  }
  const passwords = JSON.parse(readFileSync(join(dataDir, 'db-roles.json'), 'utf8')) as RolePasswords;
  const server = new URL(ADMIN_URL);
  return {
    name,
    adminUrl: databaseUrl(name),
    dataDir,
    passwords,
    host: server.hostname,
    port: Number(server.port || 5432),
    drop: async () => {
      await dropDatabase(name);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** PgBouncer's userlist for the two runtime logins. */
export function runtimeLogins(db: ScaleDatabase): Record<string, string> {
  return { [DB_ROLES.api]: db.passwords.api, [DB_ROLES.worker]: db.passwords.worker };
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Superuser query on the scale database (RLS does not apply). */
export async function adminSql<R extends object = any>(db: ScaleDatabase, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new Client({ connectionString: db.adminUrl });
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end();
  }
}
