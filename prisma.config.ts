import { defineConfig } from 'prisma/config';

// Migrations are applied by src/database/migrator.ts (same layout and ledger as `prisma migrate deploy`).
export default defineConfig({
  schema: 'prisma/schema',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/switchyard' },
});
