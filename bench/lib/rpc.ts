import { ChildProcess, fork, spawn } from 'node:child_process';

/** One request from the orchestrator to a child process over the IPC channel. */
interface RpcRequest {
  rpc: number;
  cmd: string;
  args?: unknown;
}

interface RpcReply {
  rpc: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export type RpcHandlers = Record<string, (args: any) => unknown>;

/**
 * Child side: answers the orchestrator's requests. No-op when the process has no IPC channel.
 * `keepAlive: false` (the preload in Switchyard's processes) lets the process exit as it would without the bench.
 */
export function serveRpc(handlers: RpcHandlers, options: { keepAlive: boolean } = { keepAlive: true }): void {
  if (!process.send) return;
  process.on('message', (message: RpcRequest) => {
    if (!message || typeof message.rpc !== 'number') return;
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message.args);
      })
      .then(
        (result) => process.send!({ rpc: message.rpc, ok: true, result } satisfies RpcReply),
        (err: unknown) =>
          process.send!({ rpc: message.rpc, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies RpcReply),
      );
  });
  if (!options.keepAlive) (process.channel as unknown as { unref?: () => void } | undefined)?.unref?.();
}

/** Orchestrator side: a child process with an IPC channel, its output kept for diagnostics. */
export class Child {
  /** Every child started and not yet exited, so a failed run can stop them all. */
  static readonly running = new Set<Child>();
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly tail: string[] = [];
  private readyFlag = false;
  private readonly readyWaiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.tail.push(line);
      if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.on('message', (m: RpcReply & { ready?: boolean }) => {
      if (m && m.ready === true) {
        this.readyFlag = true;
        for (const r of this.readyWaiters.splice(0)) r();
        return;
      }
      const w = m && typeof m.rpc === 'number' ? this.waiting.get(m.rpc) : undefined;
      if (!w) return;
      this.waiting.delete(m.rpc);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`${name}: ${m.error}`));
    });
    Child.running.add(this);
    this.exited = new Promise((resolve) =>
      proc.on('exit', (code) => {
        Child.running.delete(this);
        for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (${code}) before answering\n${this.output()}`));
        this.waiting.clear();
        resolve(code);
      }),
    );
  }

  /** A compiled bench module (dist-bench), run with fork. */
  static fork(name: string, modulePath: string, args: string[], env: NodeJS.ProcessEnv): Child {
    return new Child(name, fork(modulePath, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
  }

  /** A node process (e.g. `-r instrument dist/main.js`) with an IPC channel for the bench's preload. */
  static node(name: string, nodeArgs: string[], env: NodeJS.ProcessEnv, cwd: string): Child {
    return new Child(name, spawn(process.execPath, nodeArgs, { env, cwd, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves when the child sent `{ready: true}`; rejects if it exits first or takes longer than `timeoutMs`. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    if (this.readyFlag) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => this.readyWaiters.push(resolve)),
        this.exited.then((code) => {
          throw new Error(`${this.name} exited (${code}) before it was ready\n${this.output()}`);
        }),
        new Promise<never>(
          (_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} not ready after ${timeoutMs} ms\n${this.output()}`)), timeoutMs)),
        ),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  call<T = unknown>(cmd: string, args?: unknown): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running\n${this.output()}`));
    const rpc = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(rpc, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ rpc, cmd, args } satisfies RpcRequest);
    });
  }

  output(): string {
    return this.tail.slice(-40).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.alive && this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
