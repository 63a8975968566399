import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dynamodb } from '../../functions/aws/dynamodb.ts';
import { sfn } from '../../functions/aws/sfn.ts';
import { ENV } from '../../functions/catalog.ts';
import { INTERNAL_ERROR } from '../../functions/core/envelope.ts';
import { setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { startTestSystem, tokenFor } from '../support/local-client.ts';
import { recordFigure } from './support/figures.ts';
import { rawRequest } from './support/raw-http.ts';
import { type Fault, FaultInjector } from './support/sdk-faults.ts';
import { canonicalJson, type Item, lockItems, scanAll, tableClient } from './support/tables.ts';

/**
 * DynamoDB and Step Functions faults inside the handlers' own SDK clients (a middleware inside the
 * clients' retry loop, so their real retry strategy and backoff handle them), in local mode:
 * throttling and transient errors are retried and the restart completes; a write whose answer is
 * lost after it was applied is retried without harm; a permanent fault is a clean 500 (no detail in
 * the body) that leaves no partial record behind.
 */

let system: LocalSystem;
let client: DynamoDBClient;
let faults: FaultInjector;
let token: string;
let nextHost = 1;
const figures: { case: string; passed: boolean; detail: string }[] = [];

beforeAll(async () => {
  // The faults are injected into the handlers' own SDK clients: the handlers run in this process.
  // Ids one task at a time: every restart request calls the id counter, where some faults are armed.
  process.env[ENV.taskIdBlockTasks] = '1';
  system = await startTestSystem({ demoHosts: 24, demoMode: 'fast', functionRuntime: 'in-process' });
  client = tableClient(system);
  faults = new FaultInjector([dynamodb, sfn]);
  token = await tokenFor(system, 'ops', ['HOST_MANAGER', 'TASK_MANAGER']);
});

afterEach(() => faults.disarm());

afterAll(async () => {
  delete process.env[ENV.taskIdBlockTasks];
  for (const figure of figures) {
    recordFigure({
      family: 'faults (SDK)',
      case: figure.case,
      tried: 1,
      passed: figure.passed ? 1 : 0,
      detail: figure.detail,
    });
  }
  faults?.detach();
  client?.destroy();
  await system?.stop();
});

const call = async (method: string, path: string) => {
  const response = await rawRequest(system.apiUrl, {
    method,
    path,
    headers: { authorization: `Bearer ${token}` },
    timeoutMs: 60_000,
  });
  return { status: response.status, body: response.body, envelope: JSON.parse(response.body) as Envelope };
};
interface Envelope {
  data?: { id: number; status: string };
  error?: { code: number; message: string };
}

async function taskOf(taskId: number): Promise<Item | undefined> {
  return (await scanAll(client, system.tables.taskTable)).find(
    (item) => item.pk === `TASK#${taskId}` && item.sk === 'TASK',
  );
}

async function ended(taskId: number, deadlineMs = 60_000): Promise<Item> {
  const deadline = Date.now() + deadlineMs;
  let last: Item | undefined;
  while (Date.now() < deadline) {
    last = await taskOf(taskId);
    if (last && last.status !== 'RUNNING') return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Task ${taskId} still RUNNING after ${deadlineMs} ms: ${JSON.stringify(last)}`);
}

/** Everything in the tables but the id counter (ids a refused request consumed are not a record). */
async function rawRecords(): Promise<Item[]> {
  return (
    [...(await scanAll(client, system.tables.taskTable)), ...(await scanAll(client, system.tables.hostTable))]
      .filter((item) => item.pk !== 'COUNTER')
      // A counter that counts nothing is no record: an undone task leaves its host's at zero.
      .filter(
        (item) =>
          !String(item.pk).startsWith('COUNT#') ||
          Object.entries(item).some(([key, value]) => key !== 'pk' && key !== 'sk' && value !== 0),
      )
  );
}

function recordsOf(items: Item[], options: { withoutVersions?: boolean } = {}): string[] {
  const shown = options.withoutVersions ? items.map(({ version: _version, ...item }) => item) : items;
  return shown.map(canonicalJson).sort();
}

async function records(options: { withoutVersions?: boolean } = {}): Promise<string[]> {
  return recordsOf(await rawRecords(), options);
}

async function executionCount(): Promise<number> {
  const { executions } = (await system.stepFunctions.handle('ListExecutions', {
    stateMachineArn: system.stateMachineArn,
    maxResults: 1000,
  })) as { executions: unknown[] };
  return executions.length;
}

/** Runs one restart with `fault` armed throughout, and expects it to end SUCCESSFUL with one task. */
async function restartThrough(name: string, fault: Fault): Promise<void> {
  const hostId = nextHost++;
  const before = faults.log.injected;
  const delayBefore = faults.log.totalRetryDelayMs;
  let passed = false;
  try {
    faults.arm(fault);
    const { status, envelope, body } = await call('POST', `/compute/hosts/${hostId}/agent/restart`);
    expect(status, body).toBe(200);
    const task = await ended(envelope.data!.id);
    faults.disarm();

    expect(task.status).toBe('SUCCESSFUL');
    expect(
      (await scanAll(client, system.tables.taskTable)).filter(
        (item) => item.sk === 'TASK' && item.host === hostId,
      ),
    ).toHaveLength(1);
    expect((await lockItems(client, system)).filter((lock) => lock.pk === `HOST#${hostId}`)).toEqual([]);
    expect(faults.log.injected).toBeGreaterThan(before);
    passed = true;
  } finally {
    faults.disarm();
    figures.push({
      case: name,
      passed,
      detail: `${faults.log.injected - before} faults injected (${[...faults.log.operations].join(', ')}); task SUCCESSFUL, one task, lock released; SDK backoff so far ${Math.round(faults.log.totalRetryDelayMs - delayBefore)} ms`,
    });
    faults.log.operations.clear();
  }
}

describe('transient faults are retried with backoff, and the restart completes', () => {
  it('throttling on the first two attempts of DynamoDB writes, across the handlers', () =>
    restartThrough('throttled writes (first 2 attempts of 4 writes)', {
      kind: 'throttle',
      operations: ['TransactWriteItems', 'UpdateItem', 'PutItem', 'DeleteItem'],
      attempts: 2,
      calls: 4,
    }));

  it('a connection reset on the first attempt of every DynamoDB and Step Functions call', () =>
    restartThrough('connection reset on every call', { kind: 'reset', attempts: 1 }));

  it('a 500 from the service on the first attempt of every call', () =>
    restartThrough('500 on every call', { kind: 'server-error', attempts: 1 }));

  it('reports that the SDK really backed off', () => {
    expect(faults.log.retriedCalls).toBeGreaterThan(20);
    expect(faults.log.totalRetryDelayMs).toBeGreaterThan(0);
  });
});

describe('a write whose answer is lost after it was applied is retried without harm', () => {
  const afterCommit = (name: string, operation: string, bodyIncludes?: string) =>
    it(`${name}`, () =>
      restartThrough(`answer lost after commit: ${name}`, {
        kind: 'reset-after-commit',
        operations: [operation],
        ...(bodyIncludes ? { bodyIncludes } : {}),
        attempts: 1,
        calls: 1,
      }));

  afterCommit('allocating the ids (UpdateItem ADD)', 'UpdateItem', '#next');
  afterCommit(
    'creating the task and its lock (TransactWriteItems)',
    'TransactWriteItems',
    'attribute_not_exists(pk)',
  );
  afterCommit('starting the execution (StartExecution)', 'StartExecution');
  afterCommit('keeping an attempt’s task token (PutItem)', 'PutItem', 'taskToken');
  // A version-checked write whose answer is lost finds its own version on the retry: the change re-reads.
  afterCommit(
    'beginning a subtask attempt (PutItem of the task, version checked)',
    'PutItem',
    'version = :version',
  );
  afterCommit('recording the command id (UpdateItem)', 'UpdateItem', 'commandId = :commandId');
  afterCommit('recording a subtask’s output (PutItem)', 'PutItem', 'LOG#');
  // The first task write with a subtask's endTime records the first outcome.
  afterCommit('recording a subtask outcome (PutItem of the task, version checked)', 'PutItem', '"endTime"');
  afterCommit('completing the step (SendTaskSuccess)', 'SendTaskSuccess');
  afterCommit(
    'finishing the task and releasing its lock (TransactWriteItems)',
    'TransactWriteItems',
    '"Delete"',
  );
});

describe('a permanent fault is a clean 500 that leaves no partial record', () => {
  const permanent = (name: string, fault: Fault) =>
    it(`${name}`, async () => {
      const hostId = nextHost++;
      const before = await records();
      const executions = await executionCount();
      let passed = false;
      try {
        faults.arm(fault);
        const { status, envelope, body } = await call('POST', `/compute/hosts/${hostId}/agent/restart`);
        faults.disarm();

        expect(status).toBe(500);
        expect(envelope.error).toEqual(INTERNAL_ERROR);
        expect(body).not.toMatch(/injected|AccessDenied|Throughput|Internal server error\b(?!;)/);
        expect(await records()).toEqual(before);
        expect(await executionCount()).toBe(executions);
        passed = true;
      } finally {
        figures.push({
          case: `permanent: ${name}`,
          passed,
          detail: '500/10000 with no detail; no task, no lock, no execution',
        });
      }
    });

  permanent('reading the host (GetItem denied)', {
    kind: 'denied',
    operations: ['GetItem'],
    attempts: Number.POSITIVE_INFINITY,
  });
  permanent('allocating ids (UpdateItem denied)', {
    kind: 'denied',
    operations: ['UpdateItem'],
    attempts: Number.POSITIVE_INFINITY,
  });
  permanent('creating the task (throttled beyond the retries)', {
    kind: 'throttle',
    operations: ['TransactWriteItems'],
    attempts: Number.POSITIVE_INFINITY,
  });
  permanent('starting the execution (StartExecution denied): the task and lock are undone', {
    kind: 'denied',
    operations: ['StartExecution'],
    attempts: Number.POSITIVE_INFINITY,
  });

  it('a retry whose redrive is refused leaves the FAILED task exactly as it was, and the host free', async () => {
    const hostId = nextHost++;
    setDemoMode(system.hosts[hostId - 1]!, 'broken');
    const failed = await ended(
      (await call('POST', `/compute/hosts/${hostId}/agent/restart`)).envelope.data!.id,
    );
    setDemoMode(system.hosts[hostId - 1]!, 'fast');
    expect(failed.status).toBe('FAILED');
    const before = await rawRecords();
    let passed = false;
    try {
      faults.arm({ kind: 'denied', operations: ['RedriveExecution'], attempts: Number.POSITIVE_INFINITY });
      const { status, envelope } = await call('POST', `/api/v2/tasks/instances/${failed.id}/retry`);
      faults.disarm();

      expect(status).toBe(500);
      expect(envelope.error).toEqual(INTERNAL_ERROR);
      // As it was, though written twice more (reopened, then restored): its version counts them.
      expect(await records({ withoutVersions: true })).toEqual(recordsOf(before, { withoutVersions: true }));
      const retried = await call('POST', `/api/v2/tasks/instances/${failed.id}/retry`);
      expect(retried.status).toBe(200);
      expect((await ended(failed.id as number)).status).toBe('SUCCESSFUL');
      passed = true;
    } finally {
      figures.push({
        case: 'permanent: redriving a retried task (RedriveExecution denied)',
        passed,
        detail: '500/10000; the task restored FAILED as it was, no lock; a later retry SUCCESSFUL',
      });
    }
  });
});
