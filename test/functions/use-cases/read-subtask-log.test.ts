import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../functions/core/errors.ts';
import { HostRegistry } from '../../../functions/store/host-registry.ts';
import { attemptKey } from '../../../functions/store/table-schema.ts';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { readSubtaskLog } from '../../../functions/use-cases/read-subtask-log.ts';
import { type AwsEndpoint, startAwsEndpoint } from '../../../local/aws-endpoint.ts';
import {
  LocalCloudWatchLogs,
  StreamedChannel,
  type StreamedInvocation,
} from '../../../local/services/cloudwatch-logs.ts';
import { beginAttempt } from '../../support/subtask-attempts.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables, registerHost, type TestTables, testDynamoDb } from '../../support/test-tables.ts';

const OUTPUT_LOG_GROUP = '/ocp/command-output';
const PREPARE = 0;
const utf8 = new TextEncoder();

let tables: TestTables;
let store: WorkflowTaskStore;
let hosts: HostRegistry;
let endpoint: AwsEndpoint;
const streams = new Map<string, StreamedInvocation>();
let nextHost = 500;

beforeAll(async () => {
  tables = await createTestTables();
  store = new WorkflowTaskStore(tables.taskTable);
  hosts = new HostRegistry(tables.hostTable);
  endpoint = await startAwsEndpoint({
    services: {
      Logs_20140328: new LocalCloudWatchLogs((commandId, instanceId) =>
        streams.get(`${commandId}/${instanceId}`),
      ),
    },
  });
  process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = endpoint.url;
});

afterAll(async () => {
  await endpoint?.close();
});

const deps = () => ({ tasks: store, hosts, outputLogGroup: () => OUTPUT_LOG_GROUP });

/** A task whose first subtask (prepare) runs its command on `instanceId`, which has streamed `stdout` so far. */
async function prepareRunning(
  stdout: string,
  options: { recordInstance?: boolean; registered?: boolean } = {},
) {
  const hostId = nextHost++;
  const instanceId = `mi-${hostId.toString(16).padStart(17, '0')}`;
  if (options.registered !== false) await registerHost(tables, { hostId, instanceId });
  const task = await createRestartTask(store, hostId);
  const commandId = `cmd-${task.id}`;
  const attempt = await beginAttempt(
    store,
    task,
    PREPARE,
    options.recordInstance === false ? null : commandId,
    instanceId,
  );
  if (options.recordInstance === false) {
    // An attempt recorded before attempts kept their instance: only its command.
    await testDynamoDb.send(
      new UpdateItemCommand({
        TableName: tables.taskTable,
        Key: marshall(attemptKey(task.id, task.subtasks[PREPARE]!.id, attempt.attempt)),
        UpdateExpression: 'SET commandId = :commandId',
        ExpressionAttributeValues: marshall({ ':commandId': commandId }),
      }),
    );
  }
  const streamed: StreamedInvocation = {
    logGroupName: OUTPUT_LOG_GROUP,
    stepName: 'prepare',
    stdout: new StreamedChannel(),
    stderr: new StreamedChannel(),
  };
  streamed.stdout.write(utf8.encode(stdout));
  streams.set(`${commandId}/${instanceId}`, streamed);
  const stored = (await store.getTask(task.id))!;
  return { task: stored, subtask: stored.subtasks[PREPARE]!, streamed, commandId };
}

describe('readSubtaskLog', () => {
  it('answers a running attempt’s output so far, then, with the cursor, only what was written since', async () => {
    const { task, subtask, streamed, commandId } = await prepareRunning('one\ntwo\n');

    const whole = await readSubtaskLog(task, subtask, undefined, deps());
    streamed.stdout.write(utf8.encode('three\n'));
    streamed.stderr.write(utf8.encode('warning\n'));
    const next = await readSubtaskLog(task, subtask, whole.cursor, deps());

    expect(whole).toMatchObject({
      log: `=== attempt 1 · command ${commandId} · running ===\none\ntwo`,
      running: true,
      truncated: false,
    });
    expect(next.log).toBe('\nthree\n--- stderr ---\nwarning');
    expect((await readSubtaskLog(task, subtask, next.cursor, deps())).log).toBe('');
  });

  it('finds the streams of an attempt recorded without its instance by its host’s instance', async () => {
    const { task, subtask } = await prepareRunning('one\n', { recordInstance: false });
    expect((await readSubtaskLog(task, subtask, undefined, deps())).log).toMatch(/ running ===\none$/);
  });

  it('says the attempt runs, with no output, when no instance is known to read its streams by', async () => {
    const { task, subtask } = await prepareRunning('one\n', { recordInstance: false, registered: false });
    expect(await readSubtaskLog(task, subtask, undefined, deps())).toMatchObject({
      log: expect.stringMatching(/ running ===$/),
      running: true,
    });
  });

  it('refuses, before reading anything, a cursor of another subtask or one naming another command', async () => {
    const { task, subtask } = await prepareRunning('one\n');
    const other = await prepareRunning('other\n');
    const foreign = (await readSubtaskLog(other.task, other.subtask, undefined, deps())).cursor;

    await expect(readSubtaskLog(task, subtask, foreign, deps())).rejects.toThrow(InvalidArgument);
    const otherCommand = Buffer.from(
      JSON.stringify({
        v: 1,
        t: task.id,
        s: subtask.id,
        e: 0,
        l: { a: 1, c: 'cmd-other', ch: 'stdout', o: { stdout: { n: 0 }, stderr: { n: 0 } } },
      }),
    ).toString('base64url');
    await expect(readSubtaskLog(task, subtask, otherCommand, deps())).rejects.toMatchObject({
      target: 'cursor',
      message: expect.stringContaining('attempts this subtask does not have'),
    });
  });
});
