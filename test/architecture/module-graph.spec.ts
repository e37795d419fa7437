import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { folderCycles, folderGraph, SourceFile } from './module-graph';

const ROOT = join(__dirname, '..', '..');

function sourceFiles(dir: string): SourceFile[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    if (!entry.name.endsWith('.ts')) return [];
    return [{ path: relative(ROOT, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }];
  });
}

const src = sourceFiles(join(ROOT, 'src'));
const graph = folderGraph(src);

describe('the module plan of src/', () => {
  it('has no import cycle between top-level folders', () => {
    expect(folderCycles(graph)).toEqual([]);
  });

  it("keeps src/routing the worker's room: only the worker module imports it", () => {
    const importers = [...graph].flatMap(([, targets]) => targets.get('routing') ?? []);
    expect([...new Set(importers)]).toEqual(['src/app/worker.module.ts']);
  });

  it('really reads the tree: the edges it finds include known ones', () => {
    expect(graph.get('signals')?.get('orders')).toEqual(expect.arrayContaining(['src/signals/signals.service.ts']));
    expect(graph.get('workspaces')?.get('audit')).toBeDefined();
  });
});

describe('the cycle finder (fixtures)', () => {
  const file = (path: string, text: string): SourceFile => ({ path, text });

  it('finds a two-folder cycle, a longer loop, and each way of importing', () => {
    const cycles = folderCycles(
      folderGraph([
        file('src/a/x.ts', `import { y } from '../b/y';`),
        file('src/b/y.ts', `export const load = () => import('../a/x');`),
        file('src/c/z.ts', `export * from '../d/w';`),
        file('src/d/w.ts', `const e = require('../e/v');`),
        file('src/e/v.ts', `import '../c/z';`),
        file('src/f/u.ts', `import { y } from '../b/y';`),
      ]),
    );
    expect(cycles.map((c) => c.join(',')).sort()).toEqual(['a,b', 'c,d,e']);
  });

  it('ignores imports inside one folder and of packages', () => {
    expect(
      folderCycles(folderGraph([file('src/a/x.ts', `import { y } from './y';\nimport { z } from 'zod';`), file('src/a/y.ts', `import { x } from './x';`)])),
    ).toEqual([]);
  });
});
