/** ESM + ts-jest; PGlite needs --experimental-vm-modules (set by `npm test`). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
  // Jest's ESM VM modules keep every test file's module graph alive in its worker: a worker grew
  // to ~4 GB over a full run here, all of it marked by every full collection. A worker past this after a
  // test file is replaced by a fresh one (a process start, ~1 s).
  workerIdleMemoryLimit: '1536MB',
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.cjs'],
};
