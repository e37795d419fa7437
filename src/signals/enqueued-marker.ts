import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { SignalsRepository } from './signals.repository';

const FLUSH_AFTER_MS = 100;

/**
 * Records "handed to the queue" off the request path: marks are batched per workspace and written in
 * one transaction each, so the webhook pays for exactly one commit. A mark lost to a crash is
 * harmless: the recovery sweep finds the job in the queue and marks the signal itself.
 */
@Injectable()
export class EnqueuedMarker implements BeforeApplicationShutdown {
  private pending = new Map<string, { id: string; at: Date }[]>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly signals: SignalsRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  mark(workspaceId: string, signalId: string, at = new Date()): void {
    const marks = this.pending.get(workspaceId);
    if (marks) marks.push({ id: signalId, at });
    else this.pending.set(workspaceId, [{ id: signalId, at }]);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
  }

  /** Writes every pending mark; resolves once they (and any flush already running) are done. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  private async write(batch: Map<string, { id: string; at: Date }[]>): Promise<void> {
    for (const [workspaceId, marks] of batch) {
      try {
        await this.signals.markEnqueued(workspaceId, marks);
      } catch (err) {
        this.logger.warn({ err, workspaceId, signals: marks.length }, 'could not mark signals enqueued; the recovery sweep will');
      }
    }
  }
}
