import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NODE_FLAGS } from '../../src/common/service-node-flags';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Every command line that starts the api or the worker outside the launcher, where the flags have to be written out. */
function serviceCommands(): Array<[string, string]> {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const written = [
    ['package.json start:api', scripts['start:api']],
    ['package.json start:worker', scripts['start:worker']],
  ] as Array<[string, string]>;
  for (const file of ['deploy/k8s/api.yaml', 'deploy/k8s/worker.yaml', 'docker-compose.yml']) {
    for (const line of read(file).split('\n')) {
      if (/command:.*dist\/(main|worker)\.js/.test(line)) written.push([`${file}: ${line.trim()}`, line]);
    }
  }
  return written;
}

describe('the api and the worker are started with SERVICE_NODE_FLAGS everywhere', () => {
  it('finds the api and the worker command in each place', () => {
    const places = serviceCommands().map(([place]) => place.split(':')[0]);
    expect(places.filter((p) => p === 'package.json start')).toHaveLength(2);
    expect(places.filter((p) => p === 'docker-compose.yml')).toHaveLength(2);
    expect(places).toEqual(expect.arrayContaining(['deploy/k8s/api.yaml', 'deploy/k8s/worker.yaml']));
  });

  it.each(serviceCommands())('%s', (_place, command) => {
    for (const flag of SERVICE_NODE_FLAGS) expect(command).toContain(flag);
  });
});
