import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { auditVerifyCommand } from './audit/audit-verify.command';
import { AuditVerifier } from './audit/audit-verifier';
import { AuditWriter } from './audit/audit-writer';
import { CliModule } from './cli/cli.module';
import { revealCredential } from './cli/credentials-reveal.command';
import { runDbMigrate } from './cli/db-migrate.command';
import { AppConfig, loadConfigOrExit } from './config/app-config';
import { createLogger } from './common/logger';
import { runRewrap } from './credentials/rewrap.command';
import { KMS_PROVIDER, KmsProvider } from './kms/kms-provider';

const print = (line: string) => process.stdout.write(`${line}\n`);

interface Command {
  usage: string;
  options?: Record<string, { type: 'string' }>;
  run(config: AppConfig, values: Record<string, string | undefined>, context: () => Promise<INestApplicationContext>): Promise<number>;
}

/** Operator commands; each is a small function next to the feature it belongs to. */
const COMMANDS: Record<string, Command> = {
  'db migrate': { usage: 'db migrate', run: (config) => runDbMigrate(config, process.stdout) },
  'audit verify': {
    usage: 'audit verify [--workspace <id>]',
    options: { workspace: { type: 'string' } },
    run: async (_config, values, context) => auditVerifyCommand((await context()).get(AuditVerifier), { workspace: values.workspace }, print),
  },
  'keys rewrap': {
    usage: 'keys rewrap --to <kms-key-id>',
    options: { to: { type: 'string' } },
    run: async (config, values, context) => {
      if (!values.to || !config.database.url) return usage('keys rewrap needs --to and a privileged DATABASE_URL');
      const app = await context();
      const result = await runRewrap(
        { privilegedUrl: config.database.url, toKeyId: values.to },
        { kms: app.get<KmsProvider>(KMS_PROVIDER), audit: app.get(AuditWriter), print },
      );
      return result.remaining === 0 ? 0 : 1;
    },
  },
  'credentials reveal': {
    usage: 'credentials reveal --connection <id> --reason "<why>"',
    options: { connection: { type: 'string' }, reason: { type: 'string' } },
    run: async (config, values, context) => {
      if (!values.connection || !config.database.url) return usage('credentials reveal needs --connection, --reason and a privileged DATABASE_URL');
      const app = await context();
      return revealCredential(
        { privilegedUrl: config.database.url, connectionId: values.connection, reason: values.reason ?? '' },
        { kms: app.get<KmsProvider>(KMS_PROVIDER), audit: app.get(AuditWriter), print },
      );
    },
  },
};

function usage(message?: string): number {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write(
    `usage: npm run cli -- <command>\n${Object.values(COMMANDS)
      .map((c) => `  ${c.usage}`)
      .join('\n')}\n`,
  );
  return 2;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const name = Object.keys(COMMANDS).find((key) => key.split(' ').every((word, i) => argv[i] === word));
  if (!name) return usage();
  const command = COMMANDS[name];
  const { values } = parseArgs({ args: argv.slice(name.split(' ').length), options: command.options ?? {}, strict: true });
  const config = loadConfigOrExit('cli');
  let app: INestApplicationContext | undefined;
  const context = async () => (app ??= await NestFactory.createApplicationContext(CliModule.forConfig(config, createLogger(config, 'cli')), { logger: false }));
  try {
    return await command.run(config, values as Record<string, string | undefined>, context);
  } finally {
    await app?.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`switchyard: ${err.message}\n`);
    process.exit(1);
  },
);
