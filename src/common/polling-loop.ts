import type { OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';

/**
 * Runs `pass` again and again until stopped: never two passes at once, a failed pass is logged
 * and the loop goes on, and stop() waits for the pass in flight. `pass` returns the delay before
 * the next one (so a loop with a backlog can go again at once).
 */
export class PollingLoop {
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private running = false;
  private stopRequested = false;

  constructor(
    private readonly name: string,
    private readonly logger: Logger,
    private readonly pass: () => Promise<number>,
    private readonly retryDelayMs: number,
  ) {}

  start(firstDelayMs = 0): void {
    if (this.running) return;
    this.running = true;
    this.schedule(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopRequested = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /** True once stop() was called: a long pass can check it to end early. */
  get stopped(): boolean {
    return this.stopRequested;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      let next = this.retryDelayMs;
      this.inFlight = this.pass()
        .then((delay) => void (next = delay))
        .catch((err: unknown) => this.logger.error({ err }, `${this.name} pass failed`))
        .finally(() => {
          this.inFlight = undefined;
          if (this.running) this.schedule(next);
        });
    }, delayMs);
  }
}

/** A service that is one PollingLoop: start(), stop() (waits for the pass in flight), and stopped with its module. */
export abstract class LoopingService implements OnModuleDestroy {
  protected abstract readonly loop: PollingLoop;

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }
}
