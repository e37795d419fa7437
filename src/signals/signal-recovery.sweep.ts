import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { PollingLoop } from '../common/polling-loop';
import { EnqueuedMarker } from './enqueued-marker';
import { signalsRecovered } from './signal-metrics';
import { SignalQueue } from './signal-queue';
import { SignalsRepository } from './signals.repository';

const INTERVAL_MS = 2_000;
// Well past the hot path's enqueue timeout and the marker's flush delay, so live requests are left alone.
const OLDER_THAN_MS = 3_000;
const BATCH = 500;

/**
 * Finds signals that were persisted but never marked enqueued (the process died between commit and
 * add, or the queue was down) and enqueues each exactly once: a signal whose job already exists is
 * only marked, and the job id (= signal id) absorbs a race with the hot path or another replica.
 * Runs in every api process from application bootstrap, every two seconds.
 */
@Injectable()
export class SignalRecoverySweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loop: PollingLoop;

  constructor(
    private readonly signals: SignalsRepository,
    private readonly queue: SignalQueue,
    private readonly marker: EnqueuedMarker,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.loop = new PollingLoop('signal recovery sweep', logger, async () => (await this.sweepOnce(), INTERVAL_MS), INTERVAL_MS);
  }

  onApplicationBootstrap(): void {
    this.loop.start(INTERVAL_MS);
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass; returns how many signals it had to enqueue. */
  async sweepOnce(): Promise<number> {
    const stale = await this.signals.awaitingEnqueue(OLDER_THAN_MS, BATCH);
    let enqueued = 0;
    for (const { id, workspaceId } of stale) {
      if (this.loop.stopped) break;
      try {
        if (await this.queue.isEnqueued(id)) {
          signalsRecovered.inc({ action: 'marked' });
        } else {
          await this.queue.enqueue(workspaceId, id);
          signalsRecovered.inc({ action: 'enqueued' });
          enqueued += 1;
        }
        this.marker.mark(workspaceId, id);
      } catch (err) {
        this.logger.warn({ err, signalId: id, workspaceId }, 'recovery sweep could not enqueue a signal; retrying next pass');
      }
    }
    await this.marker.flush();
    if (enqueued > 0) this.logger.warn({ enqueued }, 'recovery sweep enqueued signals that were persisted but never enqueued');
    return enqueued;
  }
}
