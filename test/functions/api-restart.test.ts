import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { apiEvent, operator } from '../support/api-events.ts';
import { createTestTables, registerHost, type TestTables, tableItems } from '../support/test-tables.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:restart-agent';
const sfnMock = mockClient(SFNClient);
let tables: TestTables;
let handler: typeof import('../../functions/api.ts').handler;

const restart = (hostId: string, claims: Record<string, string> = operator('HOST_MANAGER'), body?: string) =>
  handler(
    apiEvent({
      method: 'POST',
      routePath: '/compute/hosts/{hostId}/agent/restart',
      rawPath: `/compute/hosts/${hostId}/agent/restart`,
      pathParameters: { hostId },
      claims,
      body,
    }),
  );
const parse = (result: { body?: string }) => JSON.parse(result.body ?? '{}');
const taskItems = async () => (await tableItems(tables.taskTable)).filter((item) => item.sk !== 'ID');

beforeAll(async () => {
  tables = await createTestTables();
  process.env[ENV.stateMachineArn] = STATE_MACHINE_ARN;
  process.env[ENV.commandDocuments] = JSON.stringify({ agentStatus: 'status-doc' });
  for (let hostId = 1; hostId <= 40; hostId++) {
    await registerHost(tables, { hostId, instanceId: `mi-${String(hostId).padStart(17, '0')}` });
  }
  ({ handler } = await import('../../functions/api.ts'));
});

beforeEach(() => {
  sfnMock.reset();
  sfnMock.on(StartExecutionCommand).callsFake((input) => ({
    executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${input.name}`,
    startDate: new Date(),
  }));
});

describe('POST /compute/hosts/{hostId}/agent/restart', () => {
  it('records the task with its host lock and starts one execution named after it', async () => {
    const result = await restart('2');

    const envelope = parse(result);
    expect(result.statusCode).toBe(200);
    expect(envelope).toMatchObject({
      successful: true,
      status: 200,
      data: { hostId: 2, creator: 'alice', status: 'RUNNING' },
    });
    const taskId: number = envelope.data.id;
    expect(envelope.data.executor).toBe(
      `arn:aws:states:us-east-1:123456789012:execution:restart-agent:task-${taskId}`,
    );
    const items = await taskItems();
    expect(items).toContainEqual(
      expect.objectContaining({ pk: `TASK#${taskId}`, sk: 'TASK', status: 'RUNNING' }),
    );
    expect(items).toContainEqual(expect.objectContaining({ pk: 'HOST#2', sk: 'LOCK', taskId }));
    const starts = sfnMock.commandCalls(StartExecutionCommand);
    expect(starts).toHaveLength(1);
    expect(starts[0]!.args[0].input).toMatchObject({
      stateMachineArn: STATE_MACHINE_ARN,
      name: `task-${taskId}`,
    });
    expect(JSON.parse(starts[0]!.args[0].input.input ?? '')).toEqual({
      taskId,
      hostId: 2,
      instanceId: 'mi-00000000000000002',
      agentHome: '/home/admin/ocp_agent',
      controlScript: 'bin/ocp_agentctl',
    });
  });

  it('answers with the envelope fields OCP sends, timing the request in duration', async () => {
    const envelope = parse(await restart('3'));
    expect(Object.keys(envelope).sort()).toEqual([
      'data',
      'duration',
      'server',
      'status',
      'successful',
      'timestamp',
      'traceId',
    ]);
    expect(envelope.traceId).toMatch(/^[0-9a-f]{16}$/);
    expect(envelope.duration).toBeGreaterThanOrEqual(0);
    expect(envelope.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
  });

  it('stores prohibitRollback from the body in the task context', async () => {
    const envelope = parse(await restart('4', operator('HOST_MANAGER'), '{"prohibitRollback":true}'));
    expect(envelope.data.context.stringMap).toEqual({ prohibit_rollback: 'true', host_id: '4' });
  });

  it('refuses a second restart of a host with a running task, naming that task', async () => {
    const first = parse(await restart('5'));
    const before = await taskItems();

    const second = await restart('5');

    expect(second.statusCode).toBe(409);
    expect(parse(second).error.message).toContain(`task ${first.data.id}`);
    expect(await taskItems()).toEqual(before);
  });

  it('creates exactly one task when concurrent requests race for one host', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => restart('6')));
    const statuses = results.map((result) => result.statusCode).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(409)]);
    const tasksOfHost = (await taskItems()).filter((item) => item.sk === 'TASK' && item.host === 6);
    expect(tasksOfHost).toHaveLength(1);
  });

  it('allocates unique ids to concurrent restarts of different hosts', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => restart(String(20 + i))));
    const ids = results.map((result) => parse(result).data.id as number);
    const subtaskIds = results.flatMap((result) =>
      parse(result).data.subtasks.map((s: { id: number }) => s.id),
    );
    expect(new Set([...ids, ...subtaskIds]).size).toBe(ids.length * 6);
  });

  describe('refuses, with the OCP error envelope, and changes nothing', () => {
    const cases: [string, () => ReturnType<typeof restart>, number, number][] = [
      ['a request without identity', () => restart('7', {}), 401, 30000],
      ['a caller without HOST_MANAGER', () => restart('7', operator('HOST_VIEWER TASK_MANAGER')), 403, 30014],
      ...['0', '-1', '1.5', '1e3', 'abc', '9223372036854775808', ''].map(
        (hostId): [string, () => ReturnType<typeof restart>, number, number] => [
          `hostId ${JSON.stringify(hostId)}`,
          () => restart(hostId),
          400,
          10001,
        ],
      ),
      ['an unknown host', () => restart('999'), 404, 10002],
      ['an unknown host beyond JavaScript numbers', () => restart('9223372036854775807'), 404, 10002],
      ['a body that is not JSON', () => restart('7', operator('HOST_MANAGER'), '{'), 400, 10001],
      ['a body with unknown fields', () => restart('7', operator('HOST_MANAGER'), '{"force":1}'), 400, 10001],
      [
        'prohibitRollback that is not a boolean',
        () => restart('7', operator('HOST_MANAGER'), '{"prohibitRollback":"yes"}'),
        400,
        10001,
      ],
    ];

    it.each(cases)('%s', async (_name, call, status, code) => {
      const before = await tableItems(tables.taskTable);

      const result = await call();

      const envelope = parse(result);
      expect(result.statusCode).toBe(status);
      expect(envelope).toMatchObject({ successful: false, status, error: { code } });
      expect(envelope.error.message).toEqual(expect.any(String));
      expect(await tableItems(tables.taskTable)).toEqual(before);
      expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    });
  });

  it('answers 500 without internal detail and removes the task when the execution cannot start', async () => {
    sfnMock.on(StartExecutionCommand).rejects(new Error('secret internal detail'));

    const result = await restart('8');

    const envelope = parse(result);
    expect(result.statusCode).toBe(500);
    expect(envelope).toMatchObject({ successful: false, status: 500, error: { code: 10000 } });
    expect(result.body).not.toContain('secret');
    expect(
      (await taskItems()).filter((item) => item.hostId === 8 || item.host === 8 || item.pk === 'HOST#8'),
    ).toEqual([]);
  });
});

describe('routing', () => {
  it('answers an unknown route with a 404 envelope', async () => {
    const result = await handler(
      apiEvent({ method: 'GET', routePath: '/nope', rawPath: '/nope', claims: operator('HOST_MANAGER') }),
    );
    expect(result.statusCode).toBe(404);
    expect(parse(result)).toMatchObject({ successful: false, error: { code: 10002 } });
  });
});
