import { RedriveExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { newRestartTask, type TaskRecord } from '../../functions/core/task.ts';
import { recordOutcome } from '../../functions/core/task-progress.ts';
import { ocpTimestamp } from '../../functions/core/time.ts';
import { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';
import { apiEvent, operator } from '../support/api-events.ts';
import { beginStoredAttempt, createRestartTask, endStoredTask } from '../support/tasks.ts';
import { createTestTables, registerHost, type TestTables, tableItems } from '../support/test-tables.ts';

let tables: TestTables;
let store: WorkflowTaskStore;
let handler: typeof import('../../functions/api.ts').handler;
const created: TaskRecord[] = [];

const get = (rawPath: string, routePath: string, extra: Partial<Parameters<typeof apiEvent>[0]> = {}) =>
  handler(apiEvent({ method: 'GET', routePath, rawPath, claims: operator('TASK_VIEWER'), ...extra }));
const list = (query: Record<string, string>, claims = operator('TASK_VIEWER')) =>
  handler({
    ...apiEvent({
      method: 'GET',
      routePath: '/api/v2/tasks/instances',
      rawPath: '/api/v2/tasks/instances',
      claims,
    }),
    queryStringParameters: query,
  });
const parse = (result: { body?: string }) => JSON.parse(result.body ?? '{}');

beforeAll(async () => {
  tables = await createTestTables();
  process.env[ENV.stateMachineArn] = 'arn:aws:states:us-east-1:1:stateMachine:sm';
  store = new WorkflowTaskStore(tables.taskTable);
  for (let i = 0; i < 25; i++) {
    const firstId = await store.allocateIds(6);
    const task = newRestartTask({
      firstId,
      hostId: i % 5 === 4 ? 100 + i : (i % 3) + 1,
      creator: 'alice',
      type: 'MANUAL',
      prohibitRollback: false,
      executionArn: `arn:task-${firstId}`,
      now: new Date(),
    });
    await store.createTask(task);
    if (i % 5 !== 4)
      await endStoredTask(store, task.id, i % 2 ? 'FAILED' : 'SUCCESSFUL', { endTime: task.startTime });
    created.push((await store.getTask(task.id))!);
  }
  ({ handler } = await import('../../functions/api.ts'));
});

describe('GET /api/v2/tasks/instances/{id}', () => {
  it('returns the task in the restart response shape', async () => {
    const task = created[0]!;
    const result = await get(`/api/v2/tasks/instances/${task.id}`, '/api/v2/tasks/instances/{id}', {
      pathParameters: { id: String(task.id) },
    });
    expect(result.statusCode).toBe(200);
    expect(parse(result).data).toMatchObject({ id: task.id, hostId: task.hostId, name: 'Restart OCP agent' });
    expect(parse(result).data.subtasks).toHaveLength(5);
  });

  it.each([
    ['an unknown id', '987654321', 404, 20000],
    ['an id beyond JavaScript numbers', '9223372036854775807', 404, 20000],
    ['a malformed id', '12ab', 400, 10001],
  ])('refuses %s', async (_name, id, status, code) => {
    const result = await get(`/api/v2/tasks/instances/${id}`, '/api/v2/tasks/instances/{id}', {
      pathParameters: { id },
    });
    expect(result.statusCode).toBe(status);
    expect(parse(result).error.code).toBe(code);
  });

  it('refuses a caller without a task permission', async () => {
    const result = await get('/api/v2/tasks/instances/1', '/api/v2/tasks/instances/{id}', {
      pathParameters: { id: '1' },
      claims: operator('HOST_MANAGER'),
    });
    expect(result.statusCode).toBe(403);
  });
});

describe('GET /api/v2/tasks/instances', () => {
  it('pages all tasks newest first with the OCP page envelope', async () => {
    const first = parse(await list({ size: '10' })).data;
    const third = parse(await list({ size: '10', page: '3' })).data;

    const newestFirst = [...created].reverse();
    expect(first.page).toEqual({ totalElements: 25, totalPages: 3, number: 1, size: 10 });
    expect(first.contents.map((t: { id: number }) => t.id)).toEqual(
      newestFirst.slice(0, 10).map((t) => t.id),
    );
    expect(third.contents.map((t: { id: number }) => t.id)).toEqual(newestFirst.slice(20).map((t) => t.id));
  });

  it('filters by host and status', async () => {
    const data = parse(await list({ hostId: '2', status: 'FAILED', size: '100' })).data;
    const expected = created.filter((t) => t.hostId === 2 && t.status === 'FAILED').reverse();
    expect(expected.length).toBeGreaterThan(1);
    expect(data.contents.map((t: { id: number }) => t.id)).toEqual(expected.map((t) => t.id));
    expect(data.page.totalElements).toBe(expected.length);
  });

  it('filters by name', async () => {
    expect(parse(await list({ name: 'Restart' })).data.page.totalElements).toBe(25);
    expect(parse(await list({ name: 'Stop OCP agent' })).data.page.totalElements).toBe(0);
  });

  it('answers an empty page past the end', async () => {
    const data = parse(await list({ page: '99' })).data;
    expect(data.contents).toEqual([]);
    expect(data.page.number).toBe(99);
  });

  it.each([
    [{ page: '0' }],
    [{ size: '0' }],
    [{ size: '101' }],
    [{ status: 'DONE' }],
    [{ hostId: '-1' }],
    [{ page: '1.5' }],
  ])('refuses %j with 400', async (query) => {
    const result = await list(query);
    expect(result.statusCode).toBe(400);
    expect(parse(result).error.code).toBe(10001);
  });
});

describe('GET /api/v2/tasks/instances/{id}/subtasks/{subtaskId}/log', () => {
  const logRoute = '/api/v2/tasks/instances/{id}/subtasks/{subtaskId}/log';

  const log = (attempt: number, stdout: string) => ({
    attempt,
    commandId: `c${attempt}`,
    exitCode: attempt === 1 ? 1 : 0,
    stdout,
    stderr: attempt === 1 ? 'boom' : '',
    recordedAt: 't',
  });
  /** Records attempt 1 (a failure) through the store, and attempt 2 as given, on the task's first subtask. */
  async function recordAttempts(task: TaskRecord, secondStdout: string) {
    const subtask = task.subtasks[0]!;
    await beginStoredAttempt(store, task.id, 0);
    await store.putLog(task.id, subtask.id, log(1, 'first'));
    await store.change(task.id, (current) =>
      recordOutcome(current, {
        index: 0,
        attempt: 1,
        status: 'SUCCESSFUL',
        endTime: ocpTimestamp(new Date()),
      }),
    );
    const { PutItemCommand } = await import('@aws-sdk/client-dynamodb');
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    const { testDynamoDb } = await import('../support/test-tables.ts');
    const { subtaskLogKey } = await import('../../functions/store/table-schema.ts');
    await testDynamoDb.send(
      new PutItemCommand({
        TableName: tables.taskTable,
        Item: marshall({ ...subtaskLogKey(task.id, subtask.id, 2), ...log(2, secondStdout) }),
      }),
    );
    return get(`/api/v2/tasks/instances/${task.id}/subtasks/${subtask.id}/log`, logRoute, {
      pathParameters: { id: String(task.id), subtaskId: String(subtask.id) },
    });
  }

  /** The log of the task's first subtask, read with a cursor. */
  const logWithCursor = (task: TaskRecord, cursor: string) =>
    handler({
      ...apiEvent({
        method: 'GET',
        routePath: logRoute,
        rawPath: `/api/v2/tasks/instances/${task.id}/subtasks/${task.subtasks[0]!.id}/log`,
        pathParameters: { id: String(task.id), subtaskId: String(task.subtasks[0]!.id) },
        claims: operator('TASK_VIEWER'),
      }),
      queryStringParameters: { cursor },
    });

  it('returns every attempt of the subtask, whole', async () => {
    const big = 'x'.repeat(20_000);

    const result = await recordAttempts(created[4]!, big);

    const { log: text, truncated } = parse(result).data;
    expect(text).toContain('attempt 1');
    expect(text).toContain('boom');
    expect(text.indexOf('attempt 1')).toBeLessThan(text.indexOf('attempt 2'));
    expect(text).toContain(big);
    expect(truncated).toBe(false);
  });

  it('says plainly when SSM cut an attempt’s output and its full text is not available', async () => {
    const cut = 'x'.repeat(24_000);

    const result = await recordAttempts(created[9]!, cut);

    expect(result.statusCode).toBe(200);
    const { log: text, truncated } = parse(result).data;
    expect(truncated).toBe(true);
    expect(text).toContain(`${cut}\n[stdout truncated: SSM cut it at 24,000 characters`);
  });

  it('answers a finished subtask as before, saying it does not run, with a cursor that answers nothing new', async () => {
    const task = created[14]!;
    const whole = await recordAttempts(task, 'second');
    const { cursor, ...answer } = parse(whole).data;

    expect(answer).toEqual({ log: expect.stringContaining('second'), truncated: false, running: false });
    const next = await logWithCursor(task, cursor);
    expect(parse(next).data).toEqual({ log: '', truncated: false, running: false, cursor });
  });

  it('refuses a cursor it did not return, naming the parameter', async () => {
    const result = await logWithCursor(created[0]!, 'abc');
    expect(result.statusCode).toBe(400);
    expect(parse(result).error).toMatchObject({ code: 10001, target: 'cursor' });
  });

  it('refuses a subtask of another task', async () => {
    const result = await get(
      `/api/v2/tasks/instances/${created[0]!.id}/subtasks/${created[1]!.subtasks[0]!.id}/log`,
      logRoute,
      {
        pathParameters: { id: String(created[0]!.id), subtaskId: String(created[1]!.subtasks[0]!.id) },
      },
    );
    expect(result.statusCode).toBe(404);
  });
});

const sfnMock = mockClient(SFNClient);
afterAll(() => sfnMock.restore());

const act = (task: TaskRecord, action: 'retry' | 'skip' | 'rollback') =>
  handler(
    apiEvent({
      method: 'POST',
      ...(action !== 'skip'
        ? {
            routePath: `/api/v2/tasks/instances/{id}/${action}`,
            rawPath: `/api/v2/tasks/instances/${task.id}/${action}`,
            pathParameters: { id: String(task.id) },
          }
        : {
            routePath: '/api/v2/tasks/instances/{id}/subtasks/{subtaskId}/skip',
            rawPath: `/api/v2/tasks/instances/${task.id}/subtasks/${task.subtasks[0]!.id}/skip`,
            pathParameters: { id: String(task.id), subtaskId: String(task.subtasks[0]!.id) },
          }),
      claims: operator('TASK_MANAGER'),
    }),
  );

/** A task that failed at its first subtask `ageMs` ago. */
async function failedTask(hostId: number, ageMs: number): Promise<TaskRecord> {
  const task = await createRestartTask(store, hostId, undefined, new Date(Date.now() - ageMs));
  await endStoredTask(store, task.id, 'FAILED', {
    endTime: task.startTime,
    failure: () => 'Subtask failed: boom.',
  });
  return (await store.getTask(task.id))!;
}

describe('POST /api/v2/tasks/instances/{id}/retry and skip, and Step Functions’ 14-day redrive window', () => {
  beforeEach(() => sfnMock.reset());

  it('refuses both, naming the window, without asking Step Functions or changing anything', async () => {
    await registerHost(tables, { hostId: 201, instanceId: 'i-0123456789abcdef0' });
    const task = await failedTask(201, 15 * 86_400_000);
    const before = await tableItems(tables.taskTable);

    for (const action of ['retry', 'skip'] as const) {
      const result = await act(task, action);

      expect(result.statusCode).toBe(409);
      expect(parse(result)).toMatchObject({ successful: false, error: { code: 20003 } });
      expect(parse(result).error.message).toMatch(
        new RegExp(`^Task ${task.id} ended at .*, more than 14 days ago: .* only within 14 days of its end`),
      );
    }
    expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('answers 409 naming the window when Step Functions refuses the redrive, restoring the task and freeing the host', async () => {
    await registerHost(tables, { hostId: 202, instanceId: 'i-0123456789abcdef0' });
    const task = await failedTask(202, 60_000);
    const before = await tableItems(tables.taskTable);
    sfnMock
      .on(RedriveExecutionCommand)
      .rejects(Object.assign(new Error('redrivable period exceeded'), { name: 'ExecutionNotRedrivable' }));

    const result = await act(task, 'retry');

    expect(result.statusCode).toBe(409);
    expect(parse(result).error).toMatchObject({ code: 20003 });
    expect(parse(result).error.message).toMatch(/can no longer be redriven .*only within 14 days of its end/);
    expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(1);
    // As it was, written twice more (reopened, then restored).
    const withoutVersion = (items: Record<string, unknown>[]) =>
      items.map(({ version: _v, ...item }) => item);
    const after = await tableItems(tables.taskTable);
    expect(withoutVersion(after)).toEqual(withoutVersion(before));
    expect(after.find((item) => item.pk === `TASK#${task.id}` && item.sk === 'TASK')).toMatchObject({
      version: task.version + 2,
    });
    expect(await store.lockHolder(202)).toBeUndefined();
  });
});

describe('Task actions on a host that is gone from the registry or holds a hostile value', () => {
  beforeEach(() => sfnMock.reset());

  it.each(['retry', 'skip', 'rollback'] as const)(
    'answers %s on a task of a deregistered host with 404 / COMMON_NOT_FOUND naming the host, changing nothing',
    async (action) => {
      const task = await failedTask(301, 60_000);
      const before = await tableItems(tables.taskTable);

      const result = await act(task, action);

      expect(result.statusCode).toBe(404);
      expect(parse(result)).toMatchObject({
        successful: false,
        error: { code: 10002, message: 'Host 301 does not exist.', target: 'hostId' },
      });
      expect(sfnMock.calls()).toHaveLength(0);
      expect(await tableItems(tables.taskTable)).toEqual(before);
      expect(await store.lockHolder(301)).toBeUndefined();
    },
  );

  it.each([
    ['agentHome', { agentHome: '/home/admin/ocp_agent;rm -rf /' }],
    ['agentHome with a dot segment', { agentHome: '/home/admin/../../etc' }],
    ['controlScript', { controlScript: 'bin/ocp_agentctl $(id)' }],
    ['instanceId', { instanceId: 'i-0123 --x' }],
  ])(
    'refuses a rollback whose host record holds a hostile %s as a restart does (404), changing nothing',
    async (_name, hostile) => {
      await registerHost(tables, { hostId: 302, instanceId: 'i-0123456789abcdef0', ...hostile });
      const task = await failedTask(302, 60_000);
      const before = await tableItems(tables.taskTable);

      const rollback = await act(task, 'rollback');
      const restart = await handler(
        apiEvent({
          method: 'POST',
          routePath: '/compute/hosts/{hostId}/agent/restart',
          rawPath: '/compute/hosts/302/agent/restart',
          pathParameters: { hostId: '302' },
          claims: operator('HOST_MANAGER'),
        }),
      );

      expect(rollback.statusCode).toBe(404);
      expect(parse(rollback).error).toMatchObject({ code: 10002, message: 'Host 302 does not exist.' });
      expect(parse(rollback).error).toEqual(parse(restart).error);
      expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
      expect(await tableItems(tables.taskTable)).toEqual(before);
      expect(await store.lockHolder(302)).toBeUndefined();
    },
  );
});
