import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DB_ROLES } from '../../src/database/database-roles';

/** The machine's PostgreSQL (CI and dev machines run one on 5432 with trust auth). */
export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string, user = 'postgres'): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  url.username = user;
  url.password = '';
  return url.toString();
}

export interface TestDatabase {
  name: string;
  /** Superuser: for test setup and for proving what even the owner cannot do. */
  adminUrl: string;
  ownerUrl: string;
  apiUrl: string;
  workerUrl: string;
  /** One statement as the superuser in this database (test setup and after-the-fact checks); its rows. */
  adminQuery<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: Client) => Promise<T>, url = ADMIN_URL): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh database cloned from the migrated template made by global-setup. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = process.env.SWITCHYARD_TEST_TEMPLATE_DB;
  if (!template) throw new Error('global-setup did not create the template database');
  const name = `sy_test_${randomBytes(6).toString('hex')}`;
  // CREATE DATABASE ... TEMPLATE fails while another session is copying the same template.
  for (let attempt = 0; ; attempt++) {
    try {
      await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
      break;
    } catch (err) {
      if (attempt > 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  await admin((c) => c.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${name} TO ${DB_ROLES.api}, ${DB_ROLES.worker}, ${DB_ROLES.owner}`));
  return {
    name,
    adminUrl: databaseUrl(name),
    ownerUrl: databaseUrl(name, DB_ROLES.owner),
    apiUrl: databaseUrl(name, DB_ROLES.api),
    workerUrl: databaseUrl(name, DB_ROLES.worker),
    adminQuery: async <R extends object>(text: string, values: unknown[] = []) => (await admin((c) => c.query<R>(text, values), databaseUrl(name))).rows,
    drop: () => dropDatabase(name),
  };
}

/**
 * Waits up to 2 s for connections to close on their own before forcing: pg's pool.end() resolves before the
 * server has seen its clients go, and FORCE would send one 57P01, an unhandled error in the ended pool.
 */
export async function dropDatabase(name: string): Promise<void> {
  await admin(async (c) => {
    for (let waited = 0; waited < 2000; waited += 50) {
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}
