import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest ancestor holding Switchyard's package.json (works from bench/ and dist-bench/bench/). */
export function repoRoot(from = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'switchyard') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no switchyard package.json above ${from}`);
    dir = up;
  }
}

/** The compiled bench entry next to this file (dist-bench/bench/<name>.js). */
export function benchEntry(name: string): string {
  return join(repoRoot(), 'dist-bench', 'bench', `${name}.js`);
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
