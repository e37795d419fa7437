import { Client } from 'pg';
import { ADMIN_URL } from './database';

/** Drops the template and every database this run created. */
export default async function globalTeardown(): Promise<void> {
  const template = process.env.SWITCHYARD_TEST_TEMPLATE_DB;
  if (!template) return;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
