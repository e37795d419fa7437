import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../config/app-config';

/** The console's policy: its own bundle only, no inline script or eval, never framed, forms post to us. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
// Paths the api answers itself: never the console's index.html, whatever follows.
const API_PREFIXES = ['/v1', '/hooks', '/docs', '/healthz', '/readyz', '/metrics'];
const HASHED_ASSET = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

export function isApiPath(url: string): boolean {
  const path = url.split('?')[0];
  return API_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`));
}

/**
 * Serves the built console (web/dist) at `/` on the api's origin: hashed assets cached for a year,
 * index.html never cached, and every unknown non-api GET answered with index.html (client-side routes).
 * Without a build the api runs as before and `/` is a 404.
 */
export async function mountConsole(fastify: FastifyInstance, config: AppConfig): Promise<void> {
  const root = config.console.distDir;
  if (!existsSync(join(root, 'index.html'))) return;
  await fastify.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: false, cacheControl: false, etag: true, lastModified: false });
  fastify.get('/', (_request, reply) => sendIndex(reply));
  fastify.get('/*', (request, reply) => (isApiPath(request.url) ? reply.callNotFound() : sendIndex(reply)));
  // Registered after the api's own onSend hook, so these headers win on console responses.
  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply) => {
    if (isApiPath(request.url) || reply.statusCode >= 400) return;
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('cache-control', HASHED_ASSET.test(request.url.split('?')[0]) ? 'public, max-age=31536000, immutable' : 'no-cache');
  });
}

function sendIndex(reply: FastifyReply) {
  return reply.type('text/html; charset=utf-8').sendFile('index.html');
}
