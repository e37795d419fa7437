/**
 * `npm run bench:audit`: what `GET /v1/audit/verify` costs on a long chain (issue 19, finding 13).
 * One workspace gets N audit events (default 1,000,000; --events N), sealed by the real AuditSealer; then the
 * real AuditVerifier runs a full verify (every event rehashed, every checkpoint's signature checked) and the
 * api's verify from the last signed checkpoint with the most events a checkpoint can leave behind it (checkpointEvery - 1). Writes bench/results/audit-verify-<time>.json.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { AuditModule } from '../src/audit/audit.module';
import { AuditSealer } from '../src/audit/audit-sealer';
import { AuditVerifier } from '../src/audit/audit-verifier';
import { AUDIT_TUNING, AuditTuning } from '../src/audit/audit-tuning';
import { createLogger, LOGGER } from '../src/common/logger';
import { parseConfig } from '../src/config/app-config';
import { ConfigModule } from '../src/config/config.module';
import type { BootstrapResult } from '../src/database/bootstrap';
import { DatabaseModule } from '../src/database/database.module';
import { repoRoot } from './lib/paths';

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const arg = (name: string) => process.argv.find((_, i) => process.argv[i - 1] === name);
const EVENTS = Number(arg('--events') ?? 1_000_000);

function urlOf(db: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${db}`;
  return url.toString();
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

/** N unsealed events of one workspace, as the writer inserts them (the sealer chains them). */
async function insertEvents(sql: Client, workspaceId: string, n: number): Promise<void> {
  await sql.query(
    `INSERT INTO audit_events (workspace_id, actor_type, actor_id, action, resource_type, resource_id, request_id, metadata)
     SELECT $1, 'worker', 'bench', 'credential.use', 'connection', md5(i::text), 'job-' || i, jsonb_build_object('orderId', md5(i::text), 'purpose', 'order')
       FROM generate_series(1, $2) AS i`,
    [workspaceId, n],
  );
}

async function main(): Promise<void> {
  const db = `sy_bench_audit_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-audit-'));
  const sql = new Client({ connectionString: urlOf(db) });
  try {
    // From the api build: the migrator reads prisma/migrations next to its own file.
    const { bootstrapDatabase } = require(join(repoRoot(), 'dist', 'database', 'bootstrap.js')) as {
      bootstrapDatabase: (url: string, dir: string) => Promise<BootstrapResult>;
    };
    const urls = await bootstrapDatabase(urlOf(db), dataDir);
    await sql.connect();
    const workspaceId = randomUUID();
    const config = parseConfig({
      NODE_ENV: 'production',
      KMS_PROVIDER: 'local',
      KMS_ALLOW_LOCAL_IN_PRODUCTION: 'true',
      JWT_SECRET: randomBytes(32).toString('hex'),
      DATA_DIR: dataDir,
      DATABASE_API_URL: urls.apiUrl,
      DATABASE_WORKER_URL: urls.workerUrl,
      LOG_LEVEL: 'warn',
    });
    const logger = createLogger(config, 'bench-audit');

    @Global()
    @Module({ providers: [{ provide: LOGGER, useValue: logger }], exports: [LOGGER] })
    class BenchLoggerModule {}
    @Module({ imports: [ConfigModule.forRoot(config), BenchLoggerModule, DatabaseModule.forRole('api'), AuditModule] })
    class BenchAuditModule {}
    const app = await NestFactory.createApplicationContext(BenchAuditModule, { logger: ['error'], abortOnError: false });
    try {
      const insert = await timed(() => insertEvents(sql, workspaceId, EVENTS));
      const seal = await timed(() => app.get(AuditSealer).sealWorkspace(workspaceId, true));
      await sql.query('VACUUM ANALYZE audit_events');
      const verifier = app.get(AuditVerifier);
      const full = await timed(() => verifier.verify(workspaceId, 'full'));
      if (!full.result.ok || full.result.events !== EVENTS) throw new Error(`full verify: ${JSON.stringify(full.result)}`);
      // One short of the sealer's next checkpoint: the longest stretch a verify from the last one ever rereads.
      const checkpointEvery = app.get<AuditTuning>(AUDIT_TUNING).sealer.checkpointEvery;
      const afterCheckpoint = checkpointEvery - 1;
      await insertEvents(sql, workspaceId, afterCheckpoint);
      const sinceCheckpoint = await timed(() => verifier.verify(workspaceId, 'since_checkpoint'));
      if (!sinceCheckpoint.result.ok) throw new Error(`verify since checkpoint: ${JSON.stringify(sinceCheckpoint.result)}`);
      const idle = await timed(() => verifier.verify(workspaceId, 'since_checkpoint'));
      const { rows } = await sql.query<{ size: string }>(`SELECT pg_size_pretty(pg_total_relation_size('audit_events')) AS size`);

      const result = {
        at: new Date().toISOString(),
        events: EVENTS,
        tableSize: rows[0].size,
        insertMs: Math.round(insert.ms),
        sealMs: Math.round(seal.ms),
        sealPerSecond: Math.round(EVENTS / (seal.ms / 1000)),
        fullVerifyMs: Math.round(full.ms),
        fullVerifyPerSecond: Math.round(EVENTS / (full.ms / 1000)),
        checkpointEvery,
        sinceCheckpoint: { newEvents: afterCheckpoint, ms: Math.round(sinceCheckpoint.ms), verifiedFrom: sinceCheckpoint.result.verifiedFrom },
        sinceCheckpointNoNewEvents: { ms: Math.round(idle.ms) },
      };
      const dir = join(repoRoot(), 'bench', 'results');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `audit-verify-${result.at.replace(/[:.]/g, '-').slice(0, 19)}.json`);
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
      console.log(JSON.stringify(result, null, 2));
      console.log(`written to ${file}`);
    } finally {
      await app.close();
    }
  } finally {
    await sql.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
