import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { BATCH_TASK_NAME } from '../../functions/core/batch-task.ts';
import { BatchStore } from '../../functions/store/batch-store.ts';
import { TaskStore } from '../../functions/store/task-store.ts';
import { apiEvent, operator } from '../support/api-events.ts';
import { createStoredBatch } from '../support/batches.ts';
import { createRestartTask } from '../support/tasks.ts';
import { createTestTables } from '../support/test-tables.ts';

let handler: typeof import('../../functions/api.ts').handler;
let taskId: number;
let batchId: number;

beforeAll(async () => {
  const tables = await createTestTables();
  process.env[ENV.stateMachineArn] = 'arn:aws:states:us-east-1:1:stateMachine:sm';
  const tasks = new TaskStore(tables.taskTable);
  taskId = (await createRestartTask(tasks, 7)).id;
  batchId = (await createStoredBatch(tasks, new BatchStore(tables.taskTable), [7, 8])).batch.id;
  ({ handler } = await import('../../functions/api.ts'));
});

describe('GET /api/v2/tasks/instances with batches', () => {
  it('lists a batch beside the tasks, as its summary without subtasks', async () => {
    const result = await handler(
      apiEvent({
        method: 'GET',
        routePath: '/api/v2/tasks/instances',
        rawPath: '/api/v2/tasks/instances',
        claims: operator('TASK_VIEWER'),
      }),
    );

    expect(result.statusCode).toBe(200);
    const { contents, page } = JSON.parse(result.body ?? '{}').data;
    expect(page.totalElements).toBe(2);
    expect(contents.map((entry: { id: number }) => entry.id)).toEqual([batchId, taskId]);
    expect(contents[0]).toMatchObject({
      name: BATCH_TASK_NAME,
      status: 'RUNNING',
      subtasks: [],
      hostCount: 2,
    });
    expect(contents[0]).not.toHaveProperty('hostId');
    expect(contents[1]).toMatchObject({ name: 'Restart OCP agent', hostId: 7 });
    expect(contents[1].subtasks).toHaveLength(5);
  });
});
