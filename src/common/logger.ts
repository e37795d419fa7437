import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import type { AppConfig } from '../config/app-config';

type LoggerConfig = Pick<AppConfig, 'env' | 'logLevel' | 'logFormat'>;

/** `auto` is pretty only for a person: stdout is a terminal and this is not production. */
export function resolveLogFormat(config: Pick<AppConfig, 'env' | 'logFormat'>, stdoutIsTTY: boolean): 'pretty' | 'json' {
  if (config.logFormat !== 'auto') return config.logFormat;
  return stdoutIsTTY && config.env !== 'production' ? 'pretty' : 'json';
}

/**
 * The process logger. Secrets never enter a log object in the first place (redaction is only a
 * second net: it misses nested paths and Error messages), which the log-canary tests prove for both formats.
 */
export function createLogger(config: LoggerConfig, process: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { process },
    redact: { paths: ['req.headers.authorization', 'req.headers["webhook-signature"]', 'req.headers.cookie'], censor: '[redacted]' },
  };
  const isTTY = destination === undefined && globalThis.process.stdout.isTTY === true;
  if (resolveLogFormat(config, isTTY) === 'json') return pino(options, destination);
  // In-process and synchronous, so the last lines before a crash are not lost in a transport thread.
  const pretty = pinoPretty({ colorize: isTTY, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', destination: destination ?? 1 });
  return pino(options, pretty);
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
