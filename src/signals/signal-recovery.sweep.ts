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
// Every 5th pass (10 s): unfinished signals 20 s old whose job the queue no longer has (a job outlives its
// signal's routing by far: completed jobs are trimmed only after 10,000 newer ones).
const LOST_JOB_PASS_EVERY = 5;
const LOST_JOB_AFTER_MS = 20_000;

/**
 * Finds signals that were persisted but never marked enqueued (the process died between commit and
 * add, or the queue was down) and enqueues each exactly once: a signal whose job already exists is
 * only marked, and the job id (= signal id) absorbs a race with the hot path or another replica.
 * Runs in every api process from application bootstrap, every two seconds; every 10 s it also enqueues
 * again unfinished signals whose job the queue lost.
 */
@Injectable()
export class SignalRecoverySweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loop: PollingLoop;
  private passes = 0;

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
    this.passes += 1;
    if (this.passes % LOST_JOB_PASS_EVERY === 0) enqueued += await this.requeueLostJobs();
    return enqueued;
  }

  /**
   * Enqueues again the unfinished signals whose job is gone from the queue: Redis lost its data (a restart
   * without persistence, a failover to a lagging replica) after they were marked queued, and nothing else would
   * ever route them. Routing re-plans idempotently and looks an order up at the broker before placing it again.
   */
  async requeueLostJobs(): Promise<number> {
    let requeued = 0;
    for (const workspaceId of await this.signals.workspaceIds()) {
      for (const id of await this.signals.unfinished(workspaceId, LOST_JOB_AFTER_MS, BATCH)) {
        if (this.loop.stopped) return requeued;
        try {
          if (await this.queue.isEnqueued(id)) continue;
          await this.queue.enqueue(workspaceId, id);
          signalsRecovered.inc({ action: 'requeued' });
          requeued += 1;
        } catch (err) {
          this.logger.warn({ err, signalId: id, workspaceId }, 'recovery sweep could not enqueue a signal again; retrying next pass');
        }
      }
    }
    if (requeued > 0) this.logger.warn({ requeued }, 'recovery sweep enqueued again unfinished signals whose queue job was lost');
    return requeued;
  }
}
