import { ArgumentsHost, Catch, ExceptionFilter, Inject } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { LOGGER } from './logger';
import { toProblemResponse } from './problem-response';

/** The one place HTTP errors are rendered (see toProblemResponse). */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const res = toProblemResponse(error, String(request.id), this.logger);
    void reply.status(res.status).headers(res.headers).send(res.body);
  }
}
