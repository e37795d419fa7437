import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import type { AppConfig } from '../config/app-config';

/**
 * The process logger. Secrets never enter a log object in the first place (redaction is only a
 * second net: it misses nested paths and Error messages), which the log-canary tests prove.
 */
export function createLogger(config: Pick<AppConfig, 'logLevel'>, process: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { process },
      redact: { paths: ['req.headers.authorization', 'req.headers["webhook-signature"]', 'req.headers.cookie'], censor: '[redacted]' },
    },
    destination,
  );
}

/** Routes Nest's own framework messages into pino. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }

  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }

  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }

  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }

  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}

export const LOGGER = Symbol('LOGGER');
