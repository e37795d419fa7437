import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { AUDIT_TUNING, AuditTuning, DEFAULT_AUDIT_TUNING } from '../../src/audit/audit-tuning';
import { AuditModule } from '../../src/audit/audit.module';
import { createLogger, LOGGER } from '../../src/common/logger';
import { parseConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import type { RuntimeRole } from '../../src/database/database-roles';
import { DatabaseModule } from '../../src/database/database.module';
import type { AuditEventInput } from '../../src/audit/audit-event';
import { LogCapture } from '../support/api-app';
import type { TestDatabase } from '../support/database';

/** Fast loops for tests; production defaults otherwise. */
export const TEST_TUNING: AuditTuning = {
  sealer: { ...DEFAULT_AUDIT_TUNING.sealer, intervalMs: 20 },
  dispatcher: { ...DEFAULT_AUDIT_TUNING.dispatcher, pollIntervalMs: 20, baseDelayMs: 40, maxDelayMs: 200, timeoutMs: 2000 },
};

export interface AuditApp {
  module: TestingModule;
  logs: LogCapture;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * The audit module as a process would host it: config, the runtime role's pool, a logger.
 * A second call with the same dataDir is the same installation after a restart.
 */
export async function startAuditApp(
  db: TestDatabase,
  options: { role?: RuntimeRole; env?: Record<string, string>; dataDir?: string; tuning?: AuditTuning } = {},
): Promise<AuditApp> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'switchyard-audit-'));
  const config = parseConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    DATABASE_API_URL: db.apiUrl,
    DATABASE_WORKER_URL: db.workerUrl,
    LOG_LEVEL: 'info',
    ...options.env,
  });
  const logs = new LogCapture();
  const logger = createLogger(config, 'audit-test', logs);

  @Global()
  @Module({ providers: [{ provide: LOGGER, useValue: logger }], exports: [LOGGER] })
  class TestLoggerModule {}

  const module = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), TestLoggerModule, DatabaseModule.forRole(options.role ?? 'worker'), AuditModule],
  })
    .overrideProvider(AUDIT_TUNING)
    .useValue(options.tuning ?? TEST_TUNING)
    .compile();
  await module.init();
  return { module, logs, dataDir, close: () => module.close() };
}

/** A plain pg connection (superuser, owner or a runtime role) for setup and tampering. */
export async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Runs `work` in a transaction scoped to `workspaceId`, as RLS expects. */
export async function inWorkspace<T>(client: Client, workspaceId: string, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT set_config('app.workspace_id', $1, true)`, [workspaceId]);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

export function credentialUse(connectionId: string = randomUUID(), n = 0): AuditEventInput {
  return {
    action: 'credential.use',
    actor: { type: 'worker', id: 'worker-1' },
    resource: { type: 'connection', id: connectionId },
    requestId: `job-${n}`,
    metadata: { orderId: randomUUID(), credentialVersion: 1, n },
  };
}

/** The superuser's view of a workspace's chain, for tampering (RLS and triggers do not stop it). */
export async function chainRows(admin: Client, workspaceId: string) {
  const { rows } = await admin.query(
    `SELECT id, seq::int AS seq, prev_hash, hash, workspace_id::text AS workspace_id, occurred_at, actor_type, actor_id, ip, action,
            resource_type, resource_id, reason, request_id, metadata
       FROM audit_events WHERE workspace_id = $1 AND seq IS NOT NULL ORDER BY seq`,
    [workspaceId],
  );
  return rows;
}
