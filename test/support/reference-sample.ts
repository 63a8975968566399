import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The sample response of OCP's restart-agent API, as published in shared/reference. */
export function referenceRestartResponse(): {
  data: Record<string, unknown> & { subtasks: Record<string, unknown>[] };
  [field: string]: unknown;
} {
  const text = readFileSync(
    resolve(__dirname, '../../../shared/reference/ocp-restart-agent-api.txt'),
    'utf8',
  );
  const start = text.indexOf('{', text.indexOf('Sample response'));
  const end = text.lastIndexOf('}');
  return JSON.parse(text.slice(start, end + 1));
}
