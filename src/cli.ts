import 'reflect-metadata';
import { runDbMigrate } from './cli/db-migrate.command';
import { AppConfig, loadConfigOrExit } from './config/app-config';

type Command = (config: AppConfig, args: string[]) => Promise<number>;

/** Operator commands. Each is a small function in src/cli/ or in its feature module. */
const COMMANDS: Record<string, { usage: string; run: Command }> = {
  'db migrate': { usage: 'db migrate', run: (config) => runDbMigrate(config, process.stdout) },
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const name = Object.keys(COMMANDS).find((key) => key.split(' ').every((word, i) => argv[i] === word));
  if (!name) {
    process.stderr.write(`usage: npm run cli -- <command>\n${Object.values(COMMANDS).map((c) => `  ${c.usage}`).join('\n')}\n`);
    process.exit(2);
  }
  const config = loadConfigOrExit();
  const code = await COMMANDS[name].run(config, argv.slice(name.split(' ').length));
  process.exit(code);
}

void main();
