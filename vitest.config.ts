import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests import workspace packages from their TypeScript sources ("source"
  // export condition), so no build is needed between an edit and a test run.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts', 'bench/src/**/*.test.ts'],
    // One Redis for the whole run, provided to every file (tests isolate themselves by key prefix).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
