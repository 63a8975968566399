import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Local mode's functions print a line per metric; thousands of them buried the suites' own output.
    env: { OCP_METRICS_OUTPUT: 'off' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'test/core/**/*.test.ts',
            'test/host-scripts/**/*.test.ts',
            'test/tools/**/*.test.ts',
            'test/bench/**/*.test.ts',
            'test/console/unit/**/*.test.ts',
          ],
          // Property tests run hundreds of event sequences: seconds of CPU, more on a loaded machine.
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'test/functions/**/*.test.ts',
            'test/statemachine/**/*.test.ts',
            'test/local/**/*.test.ts',
          ],
          globalSetup: ['test/setup/dynamodb-global.ts'],
          setupFiles: ['test/setup/aws-env.ts'],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/console/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
        },
      },
      {
        extends: true,
        test: {
          name: 'resilience',
          include: ['test/resilience/**/*.test.ts'],
          // Two files at a time: the 200-host rounds are bound by one DynamoDB Local, the rest by waits.
          maxWorkers: 2,
          globalSetup: ['test/resilience/support/figures-global.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
        },
      },
      {
        extends: true,
        test: {
          name: 'stack',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
