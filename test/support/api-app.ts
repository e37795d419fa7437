import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApiApp } from '../../src/app/http-app';
import { AppConfig, parseConfig } from '../../src/config/app-config';
import { createLogger } from '../../src/common/logger';
import { MetricsServer } from '../../src/observability/metrics-server';
import type { TestDatabase } from './database';
import { http } from './http-client';

export { http } from './http-client';
export type { HttpResult } from './http-client';

/** Every log line a process wrote, for canary and audit assertions. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface RunningApi {
  url: string;
  /** The separate /metrics listener (METRICS_PORT). */
  metricsUrl: string;
  app: NestFastifyApplication;
  config: AppConfig;
  platformToken: string;
  logs: LogCapture;
  close(): Promise<void>;
}

export function testEnv(db: TestDatabase, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    PORT: '0',
    METRICS_PORT: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'switchyard-api-')),
    DATABASE_API_URL: db.apiUrl,
    DATABASE_WORKER_URL: db.workerUrl,
    PLATFORM_ADMIN_TOKEN: `platform-${randomBytes(24).toString('hex')}`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'info',
    ...env,
  };
}

/** The real api (same factory as src/main.ts) listening on a random local port. */
export async function startApi(db: TestDatabase, env: Record<string, string> = {}): Promise<RunningApi> {
  const config = parseConfig(testEnv(db, env));
  const logs = new LogCapture();
  const app = await createApiApp(config, createLogger(config, 'api', logs));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    metricsUrl: app.get(MetricsServer).url,
    app,
    config,
    platformToken: config.auth.platformAdminToken!,
    logs,
    close: () => app.close(),
  };
}

/** Creates a workspace through the platform API; returns its id and owner token. */
export async function createWorkspace(api: RunningApi, name = 'ws', ownerPassword?: string) {
  const email = `owner-${randomBytes(4).toString('hex')}@example.com`;
  const res = await http(api.url, 'POST', '/v1/workspaces', { token: api.platformToken, body: { name, ownerEmail: email, ownerPassword } });
  if (res.status !== 201) throw new Error(`workspace create failed: ${res.status} ${res.text}`);
  return { id: res.body.workspace.id as string, token: res.body.token as string, ownerEmail: email, ownerId: res.body.owner.id as string };
}
