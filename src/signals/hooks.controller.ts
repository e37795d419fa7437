import { Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { Public } from '../common/auth/auth.decorators';
import { ApiView } from '../common/validation';
import { webhookAcceptedViewSchema } from './dto/signal.dto';
import { SignalIntakeService, WebhookDelivery } from './signal-intake.service';
import { SIGNAL_JSON_SCHEMA } from './signal-json-schema';

const PAYLOAD_DOC = SIGNAL_JSON_SCHEMA as unknown as Record<string, unknown>;

/** Signal webhooks: authenticated by signature or URL token, rate-limited by SignalIntakeService (not the global throttler). */
@ApiTags('hooks')
@Controller('hooks')
@Public()
@SkipThrottle()
@ApiConsumes('application/json', 'text/plain')
@ApiView(webhookAcceptedViewSchema, 202, 'Accepted: stored and queued for routing (or a duplicate of a delivery already stored).')
export class HooksController {
  constructor(private readonly intake: SignalIntakeService) {}

  @Post(':sourceId')
  @HttpCode(202)
  @ApiBody({ schema: PAYLOAD_DOC })
  @ApiHeader({ name: 'webhook-id', required: true })
  @ApiHeader({ name: 'webhook-timestamp', required: true, description: 'Unix seconds; refused more than 5 minutes off' })
  @ApiHeader({ name: 'webhook-signature', required: true, description: 'Space-separated v1,<base64 HMAC-SHA256> (Standard Webhooks)' })
  signed(@Param('sourceId') sourceId: string, @Req() request: FastifyRequest) {
    return this.intake.accept('hmac', delivery(request, sourceId));
  }

  @Post(':sourceId/:token')
  @HttpCode(202)
  @ApiBody({ schema: PAYLOAD_DOC })
  withToken(@Param('sourceId') sourceId: string, @Param('token') token: string, @Req() request: FastifyRequest) {
    return this.intake.accept('token', delivery(request, sourceId, token));
  }
}

function delivery(request: FastifyRequest, sourceId: string, token?: string): WebhookDelivery {
  return {
    sourceId,
    token,
    headers: { id: header(request, 'webhook-id'), timestamp: header(request, 'webhook-timestamp'), signature: header(request, 'webhook-signature') },
    rawBody: request.rawBody ?? '',
    body: request.body,
    ip: request.ip,
    requestId: String(request.id),
  };
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}
