// Jest runs the TypeScript sources as native ES modules (see docs/adr/0001-esm-typescript-jest.md):
// ts-jest in ESM mode, node started with --experimental-vm-modules by the npm scripts.
/** @type {import('ts-jest').JestConfigWithTsJest} */
const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testEnvironment: 'node',
  // Downloads and caches (Elasticsearch, the Node runtime's package.json, go tools): not modules of
  // the project, and not crawled (a second package named like scripts/node-runtime's warned).
  modulePathIgnorePatterns: ['<rootDir>/.cache/'],
};

export default {
  // A bound on a hung test, not a speed check: Jest's default 5 s was missed by tests that wait on a
  // real Elasticsearch when other work loads the 2-core machine (tests wait on events, not time).
  testTimeout: 60_000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};
