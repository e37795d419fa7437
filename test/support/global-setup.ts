import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { bootstrapDatabase } from '../../src/database/bootstrap';
import { ADMIN_URL, databaseUrl } from './database';

/** Migrates one template database per run; each suite clones it (fast, isolated). */
export default async function globalSetup(): Promise<void> {
  const name = `sy_tpl_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  await bootstrapDatabase(databaseUrl(name), dataDir);
  process.env.SWITCHYARD_TEST_TEMPLATE_DB = name;
  process.env.SWITCHYARD_TEST_DATA_DIR = dataDir;
}
