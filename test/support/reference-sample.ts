import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The sample response of OCP's restart-agent API, as OCP's documentation publishes it (copied into
 * test/fixtures so the suite runs from the repository alone).
 */
export function referenceRestartResponse(): {
  data: Record<string, unknown> & { subtasks: Record<string, unknown>[] };
  [field: string]: unknown;
} {
  return JSON.parse(
    readFileSync(resolve(__dirname, '../fixtures/ocp-restart-agent-sample-response.json'), 'utf8'),
  );
}
