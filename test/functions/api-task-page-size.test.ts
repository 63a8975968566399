import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { MAX_REASON_LENGTH } from '../../functions/core/scheduled-restart.ts';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import type { TaskRecord } from '../../functions/core/task.ts';
import { MAX_SUBTASK_ERROR_LENGTH, MAX_USERNAME_LENGTH } from '../../functions/core/task-limits.ts';
import { ocpTimestamp } from '../../functions/core/time.ts';
import { MAX_PAGE_SIZE } from '../../functions/http/task-list-query.ts';
import { TaskStore } from '../../functions/store/task-store.ts';
import { apiEvent, operator } from '../support/api-events.ts';
import { createTestTables } from '../support/test-tables.ts';

/** Lambda's limit on a synchronous invocation's response: the handler's result as JSON. */
const LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024;

let handler: typeof import('../../functions/api.ts').handler;

const list = (size: number) =>
  handler({
    ...apiEvent({
      method: 'GET',
      routePath: '/api/v2/tasks/instances',
      rawPath: '/api/v2/tasks/instances',
      claims: operator('TASK_VIEWER'),
    }),
    queryStringParameters: { size: String(size) },
  });

/**
 * A task at its largest: every text at its bound, written in the characters JSON escapes most (a
 * control character takes 7 bytes once the body is itself encoded in the response, a quote 4),
 * every subtask ended with an error, every number at its widest.
 */
function largestTask(n: number): TaskRecord {
  const id = Number.MAX_SAFE_INTEGER - 10 * (n + 1);
  const at = ocpTimestamp(new Date('2026-12-01T23:37:40.123Z'));
  return {
    id,
    version: Number.MAX_SAFE_INTEGER,
    name: 'Restart OCP agent',
    status: 'FAILED',
    type: 'SYS_SCHEDULED',
    operation: 'ROLLBACK',
    creator: '\u0001'.repeat(MAX_USERNAME_LENGTH),
    executor: `arn:aws-us-gov:states:ap-southeast-3:123456789012:execution:${'m'.repeat(80)}:task-${id}`,
    hostId: Number.MAX_SAFE_INTEGER - n,
    startTime: at,
    endTime: at,
    resumedAt: at,
    prohibitRollback: false,
    reason: '\u0001'.repeat(MAX_REASON_LENGTH),
    subtasks: RESTART_SUBTASKS.map((_, index) => ({
      id: id + 1 + index,
      index,
      status: 'FAILED',
      operation: 'ROLLBACK',
      runTime: 99_999,
      startTime: at,
      endTime: at,
      // Control characters are stored as spaces (boundedError): a quote is the costliest that remains.
      error: '"'.repeat(MAX_SUBTASK_ERROR_LENGTH),
      taskToken: 't'.repeat(1024),
      commandId: '00000000-0000-0000-0000-000000000000',
    })),
  };
}

beforeAll(async () => {
  const tables = await createTestTables();
  process.env[ENV.stateMachineArn] = 'arn:aws:states:us-east-1:1:stateMachine:sm';
  const store = new TaskStore(tables.taskTable);
  for (let n = 0; n < MAX_PAGE_SIZE; n += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.createTask(largestTask(n + i))));
  }
  ({ handler } = await import('../../functions/api.ts'));
}, 120_000);

describe('GET /api/v2/tasks/instances page size', () => {
  it('answers a page of the largest tasks at the largest size within a Lambda response, with room to spare', async () => {
    const result = await list(MAX_PAGE_SIZE);
    expect(result.statusCode).toBe(200);
    const data = JSON.parse(result.body ?? '{}').data;
    expect(data.contents).toHaveLength(MAX_PAGE_SIZE);
    expect(data.contents[0].subtasks[4].error).toHaveLength(MAX_SUBTASK_ERROR_LENGTH);
    const bytes = Buffer.byteLength(JSON.stringify(result));
    expect(bytes).toBeLessThan(LAMBDA_RESPONSE_LIMIT * 0.6);
  });

  it('refuses a larger size in the OCP envelope, naming the limit', async () => {
    const result = await list(MAX_PAGE_SIZE + 1);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body ?? '{}')).toMatchObject({
      successful: false,
      error: { code: 10001, message: `size must be at most ${MAX_PAGE_SIZE}.`, target: 'size' },
    });
  });
});
