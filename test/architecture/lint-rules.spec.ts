import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const ESLINT = join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js');

/** Lints fixture text as if it were the file at `path` (which need not exist), with the plan rules of eslint.config.mjs. */
function lintAs(path: string, text: string): { rule: string; message: string }[] {
  const run = spawnSync(
    process.execPath,
    [ESLINT, '--no-config-lookup', '--config', 'test/architecture/lint-plan.config.mjs', '--format', 'json', '--stdin', '--stdin-filename', path],
    { cwd: ROOT, input: text, encoding: 'utf8' },
  );
  if (run.status !== 0 && run.status !== 1) throw new Error(`eslint exited ${run.status}: ${run.stderr}`);
  const [result] = JSON.parse(run.stdout) as { messages: { ruleId: string; message: string }[] }[];
  return result.messages.map((m) => ({ rule: m.ruleId, message: m.message }));
}

describe('lint states the plan (eslint.config.mjs)', () => {
  it('refuses an import from a higher floor', () => {
    expect(lintAs('src/database/leak.ts', `import { SignalsService } from '../signals/signals.service';\nexport const s = SignalsService;\n`)).toEqual([
      expect.objectContaining({ rule: 'import-x/no-restricted-paths', message: expect.stringContaining('src/database is on floor 2') }),
    ]);
  });

  it('refuses importing src/routing from anywhere but the worker module', () => {
    expect(lintAs('src/app/api.module.ts', `import { RoutingModule } from '../routing/routing.module';\nexport const m = RoutingModule;\n`)).toEqual([
      expect.objectContaining({ rule: 'import-x/no-restricted-paths', message: expect.stringContaining("the worker's room") }),
    ]);
  });

  it('refuses the credential opener outside src/routing', () => {
    const messages = lintAs(
      'src/credentials/leak.ts',
      `import { CredentialOpener } from '../routing/credential-opener';\nexport const o = CredentialOpener;\n`,
    );
    expect(messages).toEqual(
      expect.arrayContaining([expect.objectContaining({ message: expect.stringContaining('Only src/routing opens a sealed broker credential.') })]),
    );
  });

  it('refuses process.env outside src/config', () => {
    expect(lintAs('src/signals/leak.ts', `export const port = process.env.PORT;\n`)).toEqual([expect.objectContaining({ rule: 'no-restricted-properties' })]);
  });

  it("keeps routing's pure core free of the database (its unit specs run without one)", () => {
    expect(lintAs('src/routing/order-plan.ts', `import { TenantDb } from '../database/tenant-db';\nexport const db = TenantDb;\n`)).toEqual([
      expect.objectContaining({ rule: 'import-x/no-restricted-paths', message: expect.stringContaining("routing's pure core") }),
    ]);
    expect(
      lintAs('src/routing/connection-turns.ts', `import { RoutingRepository } from './routing.repository';\nexport const r = RoutingRepository;\n`),
    ).toEqual([expect.objectContaining({ rule: 'import-x/no-restricted-paths', message: expect.stringContaining("routing's pure core") })]);
  });

  it('accepts the allowed directions: downward, inside src/routing, and the worker module', () => {
    expect(lintAs('src/signals/fine.ts', `import { loadConfig } from '../config/app-config';\nexport const c = loadConfig;\n`)).toEqual([]);
    expect(lintAs('src/routing/fine.ts', `import { CredentialOpener } from './credential-opener';\nexport const o = CredentialOpener;\n`)).toEqual([]);
    expect(lintAs('src/app/worker.module.ts', `import { RoutingModule } from '../routing/routing.module';\nexport const m = RoutingModule;\n`)).toEqual([]);
  });
});
