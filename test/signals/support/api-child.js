// The real api in a child process, TypeScript compiled on the fly by @swc/core (as jest does). With
// KILL_AT_ENQUEUE=1 it SIGKILLs itself at the first enqueue: a crash between persist and enqueue.
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { Writable } = require('node:stream');
const { transformSync } = require('@swc/core');

const swc = {
  jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' },
  module: { type: 'commonjs' },
};
require.extensions['.ts'] = (module, filename) => module._compile(transformSync(readFileSync(filename, 'utf8'), { ...swc, filename }).code, filename);
// Prisma's generated client imports its siblings as ./x.js (NodeNext style).
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  try {
    return resolve.call(this, request, ...rest);
  } catch (err) {
    if (request.startsWith('.') && request.endsWith('.js')) return resolve.call(this, request.slice(0, -3), ...rest);
    throw err;
  }
};

require('reflect-metadata');
const { createApiApp } = require('../../../src/app/http-app');
const { parseConfig } = require('../../../src/config/app-config');
const { createLogger } = require('../../../src/common/logger');
const { SignalQueue } = require('../../../src/signals/signal-queue');

if (process.env.KILL_AT_ENQUEUE === '1') {
  SignalQueue.prototype.enqueue = async function () {
    process.kill(process.pid, 'SIGKILL');
  };
}

async function main() {
  const config = parseConfig(process.env);
  const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
  const app = await createApiApp(config, createLogger(config, 'api', quiet));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send({ port: app.getHttpServer().address().port });
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
