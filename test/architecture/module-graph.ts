import { dirname, join, normalize } from 'node:path';

export interface SourceFile {
  /** Repository-relative, forward slashes: `src/signals/sources.service.ts`. */
  path: string;
  text: string;
}

// Static imports, re-exports, dynamic imports and requires: every way a file can depend on another.
const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;

/** The top-level folder under src/ a file belongs to (`src/routing/x.ts` → `routing`); files directly in src/ have none. */
export function folderOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** Edges between top-level folders of src/, each with the files that make it. */
export function folderGraph(files: SourceFile[]): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of files) {
    const from = folderOf(file.path);
    if (!from) continue;
    for (const match of file.text.matchAll(SPECIFIER)) {
      const to = folderOf(
        normalize(join(dirname(file.path), match[1]))
          .split('\\')
          .join('/'),
      );
      if (!to || to === from) continue;
      const targets = graph.get(from) ?? new Map<string, string[]>();
      targets.set(to, [...(targets.get(to) ?? []), file.path]);
      graph.set(from, targets);
    }
  }
  return graph;
}

/** Groups of folders that import each other, directly or around a loop (Tarjan's strongly connected components). */
export function folderCycles(graph: Map<string, Map<string, string[]>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        group.push(w);
        if (w === v) break;
      }
      if (group.length > 1) cycles.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}
