import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { LoopingService, PollingLoop } from '../common/polling-loop';
import { LossGuard } from './loss-guard';

const EVERY_MS = 1_000;

/** Runs LossGuard.afterQuotes again and again: a quote that breaches a loss limit acts within a second or so, without a fill or signal. */
@Injectable()
export class QuoteWatch extends LoopingService {
  protected readonly loop: PollingLoop;

  constructor(lossGuard: LossGuard, @Inject(LOGGER) logger: Logger) {
    super();
    this.loop = new PollingLoop('quote loss watch', logger, async () => (await lossGuard.afterQuotes(), EVERY_MS), EVERY_MS);
  }
}
