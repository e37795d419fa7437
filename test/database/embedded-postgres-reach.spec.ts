import { mkdirSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstClosedDirectory } from '../../src/database/embedded-postgres';

// As root, embedded PostgreSQL runs as a system user: a checkout under a 0700 directory (mktemp -d, /root) is out of its reach.
describe('firstClosedDirectory', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'reach-'));
    chmodSync(base, 0o755);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('names the first directory others may not enter on the way to a path', () => {
    const closed = join(base, 'home');
    mkdirSync(join(closed, 'switchyard', 'node_modules'), { recursive: true });
    chmodSync(closed, 0o700);
    expect(firstClosedDirectory(join(closed, 'switchyard', 'node_modules'))).toBe(closed);
  });

  it('finds none when every directory on the way may be entered', () => {
    const open = join(base, 'srv', 'switchyard');
    mkdirSync(open, { recursive: true });
    chmodSync(join(base, 'srv'), 0o711);
    expect(firstClosedDirectory(open)).toBeUndefined();
  });
});
