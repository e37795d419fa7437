import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };

/** The supported Node lines are written in several places; they move together (docs/operations.md "Node.js lines"). */
describe('supported Node.js lines', () => {
  it('engines and @types/node start at the oldest supported line, 22', () => {
    expect(pkg.engines.node).toBe('>=22.12');
    expect(pkg.devDependencies['@types/node']).toMatch(/^\^22\./);
  });

  it('the image runs 24, the suite runs on 24, and the quick start runs on 22, 24 and 26', () => {
    expect(read('Dockerfile')).toMatch(/^FROM node:24-/m);
    const ci = read('.ci/run');
    expect(ci).toMatch(/PATH="\$\(node_bin 24\):\$PATH"[\s\S]*npm ci[\s\S]*npm test/);
    expect(ci).toMatch(/node \.ci\/quickstart\.mjs[\s\S]*for major in 22 26; do[\s\S]*node \.ci\/quickstart\.mjs/);
    expect(ci).not.toMatch(/npm ci \|\||npm install/);
  });
});
