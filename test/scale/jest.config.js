const { join } = require('node:path');
const root = require('../../jest.config.js');

/**
 * The scale-out suite (npm run test:scale): real processes from dist/ behind a real PgBouncer.
 * Its files end in .scale.ts so the root suite (`**\/*.spec.ts`) never picks them up. Instead of the
 * root's template database, its global setup compiles src/ into a private build the processes run
 * from. One file at a time: the suites start several processes each on a 2-core machine.
 */
/** @type {import('jest').Config} */
module.exports = {
  ...root,
  rootDir: join(__dirname, '..', '..'),
  roots: ['<rootDir>/test/scale'],
  testMatch: ['**/*.scale.ts'],
  globalSetup: '<rootDir>/test/scale/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/scale/support/global-teardown.ts',
  testTimeout: 300_000,
  maxWorkers: 1,
};
