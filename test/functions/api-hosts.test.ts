import { beforeAll, describe, expect, it } from 'vitest';
import { dynamodb } from '../../functions/aws/dynamodb.ts';
import { ENV } from '../../functions/catalog.ts';
import { TaskStore } from '../../functions/store/task-store.ts';
import { apiEvent, operator } from '../support/api-events.ts';
import { createRestartTask } from '../support/tasks.ts';
import { createTestTables, registerHost, type TestTables, tableItems } from '../support/test-tables.ts';

let tables: TestTables;
let store: TaskStore;
let busyTaskId: number;
let handler: typeof import('../../functions/api.ts').handler;

const HOST_IDS = [5, 1, 4, 2, 3, 12];

const listHosts = (query?: Record<string, string>, permissions = 'HOST_VIEWER') =>
  handler({
    ...apiEvent({
      method: 'GET',
      routePath: '/api/v2/compute/hosts',
      rawPath: '/api/v2/compute/hosts',
      claims: operator(permissions),
    }),
    ...(query ? { queryStringParameters: query } : {}),
  });
const getHost = (hostId: string, permissions = 'HOST_VIEWER') =>
  handler(
    apiEvent({
      method: 'GET',
      routePath: '/api/v2/compute/hosts/{hostId}',
      rawPath: `/api/v2/compute/hosts/${hostId}`,
      pathParameters: { hostId },
      claims: operator(permissions),
    }),
  );
const parse = (result: { body?: string }) => JSON.parse(result.body ?? '{}');
const idsOf = (result: { body?: string }) =>
  parse(result).data.contents.map((host: { id: number }) => host.id);

/** The calls the DynamoDB client made while `act` ran, by command. */
async function dynamoCalls(act: () => Promise<unknown>): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countHostCalls' },
  );
  try {
    await act();
  } finally {
    dynamodb.middlewareStack.remove('countHostCalls');
  }
  return calls;
}

beforeAll(async () => {
  tables = await createTestTables();
  process.env[ENV.stateMachineArn] = 'arn:aws:states:us-east-1:123456789012:stateMachine:restart-agent';
  for (const hostId of HOST_IDS) {
    await registerHost(tables, { hostId, instanceId: `mi-${String(hostId).padStart(17, '0')}` });
  }
  // A record whose agentHome its SSM document would refuse: every route answers it as not existing.
  await registerHost(tables, { hostId: 99, instanceId: 'mi-00000000000000099', agentHome: '/x;reboot' });
  store = new TaskStore(tables.taskTable);
  busyTaskId = (await createRestartTask(store, 4)).id;
  ({ handler } = await import('../../functions/api.ts'));
});

describe('GET /api/v2/compute/hosts', () => {
  it('answers the first page of 10 hosts by id in OCP’s page envelope', async () => {
    const result = await listHosts();

    expect(result.statusCode).toBe(200);
    const { data, successful } = parse(result);
    expect(successful).toBe(true);
    expect(data.page).toEqual({ totalElements: 6, totalPages: 1, number: 1, size: 10 });
    expect(idsOf(result)).toEqual([1, 2, 3, 4, 5, 12]);
    expect(data.contents[0]).toEqual({
      id: 1,
      name: null,
      instanceId: 'mi-00000000000000001',
      agentHome: '/home/admin/ocp_agent',
      controlScript: 'bin/ocp_agentctl',
      busy: false,
      runningTaskId: null,
    });
  });

  it('shows a busy host with the task holding it', async () => {
    const { data } = parse(await listHosts());

    expect(data.contents.find((host: { id: number }) => host.id === 4)).toMatchObject({
      busy: true,
      runningTaskId: busyTaskId,
    });
    expect(data.contents.filter((host: { busy: boolean }) => host.busy)).toHaveLength(1);
  });

  it('pages with OCP’s page (from 1) and size; a page past the end is empty', async () => {
    const second = await listHosts({ page: '2', size: '4' });
    const past = await listHosts({ page: '3', size: '4' });

    expect(idsOf(second)).toEqual([5, 12]);
    expect(parse(second).data.page).toEqual({ totalElements: 6, totalPages: 2, number: 2, size: 4 });
    expect(idsOf(past)).toEqual([]);
    expect(parse(past).data.page.totalElements).toBe(6);
  });

  it('filters by one id or several, leaving out ids that name no host', async () => {
    expect(idsOf(await listHosts({ id: '3' }))).toEqual([3]);
    const several = await listHosts({ id: '12,2,777,9223372036854775807' });
    expect(idsOf(several)).toEqual([2, 12]);
    expect(parse(several).data.page.totalElements).toBe(2);
    expect(idsOf(await listHosts({ id: '777' }))).toEqual([]);
  });

  it('reads the page’s locks in one batched read, and an id filter’s hosts without a Scan', async () => {
    const listing = await dynamoCalls(() => listHosts({ size: '100' }));
    const filtered = await dynamoCalls(() => listHosts({ id: '1,2,3,4' }));

    expect(Object.fromEntries(listing)).toEqual({ ScanCommand: 1, BatchGetItemCommand: 1 });
    expect(Object.fromEntries(filtered)).toEqual({ BatchGetItemCommand: 2 });
  });

  it('leaves out a host whose record its SSM document would refuse, as every route answers it', async () => {
    expect(idsOf(await listHosts({ id: '99' }))).toEqual([]);
    expect(idsOf(await listHosts({ size: '100' }))).not.toContain(99);
  });

  it('lets a HOST_MANAGER list too', async () => {
    expect((await listHosts(undefined, 'HOST_MANAGER')).statusCode).toBe(200);
  });

  it.each([
    [{ page: '0' }, 'page'],
    [{ size: 'ten' }, 'size'],
    [{ size: '101' }, 'size'],
    [{ id: '1,x' }, 'id'],
    [{ id: '' }, 'id'],
  ])('refuses %j with OCP’s 400 naming the parameter, changing nothing', async (query, target) => {
    const before = await tableItems(tables.taskTable);
    const result = await listHosts(query);

    expect(result.statusCode).toBe(400);
    expect(parse(result)).toMatchObject({ successful: false, status: 400, error: { code: 10001, target } });
    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('refuses a caller with neither HOST_VIEWER nor HOST_MANAGER with 403', async () => {
    const result = await listHosts(undefined, 'TASK_VIEWER,TASK_MANAGER');

    expect(result.statusCode).toBe(403);
    expect(parse(result).error).toMatchObject({ code: 30014 });
    expect(parse(result).error.message).toMatch(/HOST_VIEWER or HOST_MANAGER/);
  });
});

describe('GET /api/v2/compute/hosts/{hostId}', () => {
  it('answers the host with its registration and the task holding it', async () => {
    const busy = parse(await getHost('4')).data;
    const free = parse(await getHost('2', 'HOST_MANAGER')).data;

    expect(busy).toEqual({
      id: 4,
      name: null,
      instanceId: 'mi-00000000000000004',
      agentHome: '/home/admin/ocp_agent',
      controlScript: 'bin/ocp_agentctl',
      busy: true,
      runningTaskId: busyTaskId,
    });
    expect(free).toMatchObject({ id: 2, busy: false, runningTaskId: null });
  });

  it.each(['777', '9223372036854775807', '99'])('answers 404 / 10002 for host %s', async (hostId) => {
    const result = await getHost(hostId);

    expect(result.statusCode).toBe(404);
    expect(parse(result).error).toMatchObject({ code: 10002, target: 'hostId' });
    expect(parse(result).error.message).toBe(`Host ${hostId} does not exist.`);
  });

  it.each(['0', '01', 'x', '9223372036854775808'])('answers 400 / 10001 for hostId %j', async (hostId) => {
    const result = await getHost(hostId);

    expect(result.statusCode).toBe(400);
    expect(parse(result).error).toMatchObject({ code: 10001, target: 'hostId' });
  });

  it('refuses a caller with neither HOST_VIEWER nor HOST_MANAGER with 403', async () => {
    const result = await getHost('1', 'TASK_MANAGER');

    expect(result.statusCode).toBe(403);
    expect(parse(result).error).toMatchObject({ code: 30014 });
  });
});
