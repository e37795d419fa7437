// The fault suite: the root jest config, narrowed to test/faults/*.faults.ts (named so that `npm test`,
// which matches *.spec.ts, never picks it up). It brings its own PostgreSQL, so no template database.
const root = require('../../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...root,
  rootDir: '../..',
  roots: ['<rootDir>/test/faults'],
  testMatch: ['**/*.faults.ts'],
  globalSetup: undefined,
  globalTeardown: undefined,
  maxWorkers: 1,
  testTimeout: 60 * 60_000,
  // Child processes are stopped in afterAll; keep-alive sockets to them must not hold the run open.
  forceExit: true,
};
