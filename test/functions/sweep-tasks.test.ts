import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { countCalls } from '../../bench/sdk-counter.ts';
import { dynamodb } from '../../functions/aws/dynamodb.ts';
import { ENV } from '../../functions/catalog.ts';
import { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';
import { createRestartTask, endStoredTask } from '../support/tasks.ts';
import { createTestTables, tableItems } from '../support/test-tables.ts';

const sfnMock = mockClient(SFNClient);
const INSTANCE = 'mi-0123456789abcdef0';
const ENDED_TASKS = 300;
/** Tasks written at once while the history is filled. */
const WRITE_CONCURRENCY = 5;
let store: WorkflowTaskStore;
let taskTable: string;
let sweep: typeof import('../../functions/sweep-tasks.ts').handler;

beforeAll(async () => {
  ({ taskTable } = await createTestTables());
  process.env[ENV.commandOutputLogGroup] = '/ocp/command-output';
  store = new WorkflowTaskStore(taskTable);
  ({ handler: sweep } = await import('../../functions/sweep-tasks.ts'));
});

const runningTask = (hostId: number) => createRestartTask(store, hostId);

/** The sweep's DynamoDB calls and read units, counted on the handlers' own client. */
async function sweepReads() {
  const counter = countCalls(dynamodb, 'sweep-reads');
  try {
    const result = await sweep();
    return { result, calls: Object.fromEntries(counter.count.calls), readUnits: counter.count.readUnits };
  } finally {
    counter.stop();
  }
}

describe('sweep-tasks at scale', () => {
  it('reads the same whether 0 or 300 ended tasks are in the table: only the running ones', async () => {
    const running = [await runningTask(1), await runningTask(2)];
    sfnMock.on(DescribeExecutionCommand).callsFake(({ executionArn }: { executionArn: string }) => ({
      executionArn,
      status: 'RUNNING',
      input: JSON.stringify({ instanceId: INSTANCE }),
    }));
    const withoutHistory = await sweepReads();

    // A few at a time: tasks created at once contend for the same counter items (TransactionConflict).
    for (let first = 0; first < ENDED_TASKS; first += WRITE_CONCURRENCY) {
      await Promise.all(
        Array.from({ length: Math.min(WRITE_CONCURRENCY, ENDED_TASKS - first) }, async (_, i) => {
          const task = await runningTask(100 + first + i);
          await endStoredTask(store, task.id, 'FAILED');
        }),
      );
    }
    const ended = (await tableItems(taskTable)).filter(
      (item) => item.sk === 'TASK' && item.status !== 'RUNNING',
    );
    expect(ended).toHaveLength(ENDED_TASKS);
    // The index is eventually consistent: measure once the freed locks have left it.
    await expect.poll(async () => (await store.hostLocks()).length).toBe(running.length);
    const withHistory = await sweepReads();

    expect(withHistory).toEqual(withoutHistory);
    expect(withoutHistory.calls).toEqual({ ScanCommand: 1, GetItemCommand: running.length });
    expect(withoutHistory.result).toEqual({ fixed: [], completed: [], released: [], failed: [] });
    expect(sfnMock.commandCalls(DescribeExecutionCommand)).toHaveLength(2 * running.length);
  }, 180_000);
});
