import helmet from '@fastify/helmet';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { FastifyInstance, FastifyReply, FastifyRequest, LogController } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/app-config';
import { NestPinoLogger } from '../common/logger';
import { httpErrors, httpRequestDuration } from '../observability/metrics';
import { mountConsole } from '../console/console-static';
import { ApiModule } from './api.module';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
// Swagger UI's initializer is a file (swagger-ui-init.js), so no inline script is allowed; its styles still are.
const DOCS_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received, for signature verification. */
    rawBody?: string;
  }
}

function decodablePath(url: string): boolean {
  try {
    decodeURIComponent(url.split('?')[0]);
    return true;
  } catch {
    return false;
  }
}

/** Builds the api: Fastify with security headers, raw-body capture, problem+json errors, metrics and /docs. */
export async function createApiApp(config: AppConfig, logger: Logger): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    loggerInstance: logger.child({ component: 'http' }),
    // Our onResponse hook logs each request by route pattern instead (raw URLs can carry webhook tokens).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.bodyLimitBytes,
    // Only named proxies may set the client address (IP allowlists and per-IP limits depend on it).
    trustProxy: typeof config.http.trustProxy === 'number' ? trustHops(config.http.trustProxy) : config.http.trustProxy,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // The router's own refusals (undecodable path, parameter over maxParamLength) skip every hook, so they went out
    // without security headers or problem+json: any id Node's 16 KiB header limit lets through now reaches its
    // validator, and an undecodable path gets a normal 404 (under /v1, so the console never answers it).
    routerOptions: { maxParamLength: 16_384 },
    rewriteUrl: (req: { url?: string }) => (decodablePath(req.url ?? '/') ? (req.url ?? '/') : '/v1/__undecodable-path__'),
  });
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.forConfig(config, logger), adapter, {
    logger: new NestPinoLogger(logger),
    bodyParser: false,
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  await registerSecurity(app, fastify);
  registerBodyParsers(fastify);
  registerHooks(fastify, logger);
  if (config.http.docsEnabled) mountDocs(app, config);
  await mountConsole(fastify, config);
  return app;
}

/** Trust the nearest `hops` proxies (a load balancer chain of known length). */
function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

async function registerSecurity(app: NestFastifyApplication, fastify: FastifyInstance): Promise<void> {
  await app.register(helmet as never, {
    contentSecurityPolicy: false,
    frameguard: { action: 'deny' },
    hsts: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('content-security-policy', request.url.startsWith('/docs') ? DOCS_CSP : API_CSP);
    reply.header('permissions-policy', 'accelerometer=(), camera=(), geolocation=(), gyroscope=(), microphone=(), payment=(), usb=()');
    reply.header('cache-control', 'no-store');
    reply.header('x-request-id', String(request.id));
  });
}

/** JSON and text/plain bodies are both kept raw (webhook signatures cover the exact bytes); JSON is parsed here. */
function registerBodyParsers(fastify: FastifyInstance): void {
  fastify.addContentTypeParser(['application/json', 'application/problem+json'], { parseAs: 'string' }, (request, body, done) => {
    request.rawBody = body as string;
    if ((body as string).length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });
  fastify.addContentTypeParser('text/plain', { parseAs: 'string' }, (request, body, done) => {
    request.rawBody = body as string;
    done(null, body);
  });
}

function registerHooks(fastify: FastifyInstance, logger: Logger): void {
  warnOnUntrustedForwarding(fastify, logger);
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpRequestDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 400) httpErrors.inc({ status: String(reply.statusCode), code: String(reply.getHeader('x-problem-code') ?? '') });
    logger.info(
      { requestId: String(request.id), method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 },
      'request',
    );
  });
}

/**
 * Behind a proxy TRUST_PROXY does not name, every client shares the proxy's rate-limit bucket and IP
 * allowlists never match: say so once per process (a per-request line would flood the logs).
 */
function warnOnUntrustedForwarding(fastify: FastifyInstance, logger: Logger): void {
  let warned = false;
  fastify.addHook('onRequest', async (request) => {
    if (warned || request.headers['x-forwarded-for'] === undefined) return;
    // Fastify defines `ips` only with a trust setting; it stops at the first untrusted hop, so [peer] means untrusted.
    const ips = (request as { ips?: string[] }).ips;
    if (ips && ips.length > 1) return;
    warned = true;
    logger.warn(
      { peer: request.socket.remoteAddress },
      'X-Forwarded-For from a peer TRUST_PROXY does not trust: client addresses are the peer (set TRUST_PROXY behind a proxy)',
    );
  });
}

function mountDocs(app: INestApplication, config: AppConfig): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Switchyard')
      .setDescription('Signal-to-execution router. Errors are RFC 9457 application/problem+json with a stable `code`.')
      .setVersion('1')
      .addServer(config.http.publicBaseUrl)
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
}
