import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '..', '..', '..');

/**
 * Compiles src/ into a private directory (with node_modules and prisma linked beside it) once per run.
 * The processes the suites start run from there, never from the shared dist/: a rebuild in the working
 * tree (which starts with rm -rf dist) cannot pull files from under a process the test (re)starts, and
 * the suite always runs the code as it is now.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.SCALE_BUILD_DIR) {
    // A build made elsewhere (e.g. of a patched tree); kept after the run.
    process.env.SWITCHYARD_SCALE_BUILD = resolve(process.env.SCALE_BUILD_DIR);
    process.stdout.write(`\nscale suite: using the build in ${process.env.SWITCHYARD_SCALE_BUILD}\n`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-scale-build-'));
  process.env.SWITCHYARD_SCALE_BUILD_OWNED = '1';
  const started = Date.now();
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], {
    cwd: REPO,
    stdio: 'inherit',
  });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  symlinkSync(join(REPO, 'prisma'), join(dir, 'prisma'), 'dir');
  process.env.SWITCHYARD_SCALE_BUILD = dir;
  process.stdout.write(`\nscale suite: compiled src/ into ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
