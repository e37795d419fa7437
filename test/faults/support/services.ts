import { ChildProcess, execFileSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kill9, spawnTracked, terminate, waitFor } from './os-processes';

export const REPO = resolve(__dirname, '..', '..', '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * A private copy of the built app (dist/) to spawn `node dist/main.js` and `node dist/worker.js` from,
 * so a concurrent `npm run build` (rm -rf dist) in the shared tree cannot pull it away mid-run.
 * dist/ is copied when it is newer than every file in src/; otherwise (or with FAULTS_BUILD=fresh)
 * the suite compiles its own with tsc. prisma/ and node_modules/ are linked, as next to a real dist.
 */
export function prepareBuild(): { root: string; cleanup(): void; source: string } {
  // For iterating on the suite itself: a build directory prepared earlier (kept, never deleted here).
  const reuse = process.env.FAULTS_BUILD_DIR;
  if (reuse && existsSync(join(reuse, 'dist', 'main.js')))
    return { root: reuse, source: process.env.FAULTS_BUILD_LABEL ?? 'a build prepared beforehand', cleanup: () => undefined };
  const root = mkdtempSync(join(tmpdir(), 'sy-faults-build-'));
  const dist = join(REPO, 'dist');
  const required = ['main.js', 'worker.js', join('database', 'bootstrap.js')];
  const fresh =
    process.env.FAULTS_BUILD !== 'fresh' &&
    required.every((f) => existsSync(join(dist, f))) &&
    statSync(join(dist, 'main.js')).mtimeMs >= newestMtime(join(REPO, 'src'));
  let source = 'copied dist';
  if (fresh) cpSync(dist, join(root, 'dist'), { recursive: true });
  if (!fresh || !required.every((f) => existsSync(join(root, 'dist', f)))) {
    source = 'private tsc build';
    rmSync(join(root, 'dist'), { recursive: true, force: true });
    try {
      execFileSync(
        process.execPath,
        [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(root, 'dist')],
        { stdio: 'pipe' },
      );
    } catch (err) {
      // tsc emits despite type errors (someone may be mid-edit in the shared tree); only missing output is fatal.
      if (!required.every((f) => existsSync(join(root, 'dist', f)))) throw err;
    }
  }
  symlinkSync(join(REPO, 'prisma'), join(root, 'prisma'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  return { root, source, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * One service process (api or worker) as an operator runs it: `node dist/<entry>.js` with an environment.
 * Every incarnation appends its stdout (pino JSON lines) and stderr to files, for the leak scan.
 */
export class ServiceProcess {
  generation = 0;
  kills = 0;
  /** Exits nobody asked for: each is a finding. The process is restarted as a supervisor would (at most 5 times). */
  readonly crashes: string[] = [];
  private child?: ChildProcess;
  private restarting?: Promise<void>;
  private streams: WriteStream[] = [];

  constructor(
    readonly name: 'api' | 'worker',
    private readonly buildRoot: string,
    readonly env: Record<string, string>,
    readonly logDir: string,
    private readonly ready: (output: () => string) => Promise<unknown>,
  ) {}

  get logFiles(): string[] {
    return [join(this.logDir, `${this.name}.log`), join(this.logDir, `${this.name}.stderr.log`)];
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const [outFile, errFile] = this.logFiles;
    const out = createWriteStream(outFile, { flags: 'a' });
    const err = createWriteStream(errFile, { flags: 'a' });
    this.streams.push(out, err);
    const child = spawnTracked(process.execPath, [join(this.buildRoot, 'dist', this.name === 'api' ? 'main.js' : 'worker.js')], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', METRICS_PORT: '0', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: this.buildRoot,
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (output.length < 200_000) output += chunk.toString('utf8');
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(err);
    this.child = child;
    this.generation += 1;
    await Promise.race([
      this.ready(() => output),
      new Promise((_, reject) =>
        child.once('exit', (code, signal) => reject(new Error(`${this.name} exited during start-up (${code ?? signal}); see ${this.logFiles.join(', ')}`))),
      ),
    ]);
    child.once('exit', (code, signal) => {
      if (this.child !== child) return; // killed or stopped on purpose
      this.child = undefined;
      this.crashes.push(`${this.name} exited by itself (${code ?? signal}) at ${new Date().toISOString()}`);
      if (this.crashes.length <= 5) this.restarting = new Promise((r) => setTimeout(r, 1000)).then(() => this.start()).catch(() => undefined);
    });
  }

  /** Waits for a supervisor-style restart after a crash, if one is under way. */
  async settled(): Promise<void> {
    await this.restarting;
  }

  /** kill -9: no shutdown hook runs, in-flight jobs and requests are cut off. */
  async kill9(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await kill9(child);
    this.kills += 1;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await terminate(child, 15_000);
    await Promise.all(this.streams.map((s) => new Promise<void>((r) => s.end(() => r()))));
    this.streams = [];
  }
}

/** Readiness of the api: /healthz answers. */
export function apiReady(url: string) {
  return () => waitFor('the api to answer /healthz', async () => (await fetch(`${url}/healthz`)).ok, 60_000, 100);
}

/** Readiness of the worker: it logged that its queue workers started. */
export function workerReady() {
  return (output: () => string) => waitFor('the worker to start its queue workers', () => output().includes('"workers started"'), 60_000, 100);
}
