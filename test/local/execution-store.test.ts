import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import { ExecutionStore, INTERRUPTED_ERROR } from '#local/services/execution-store';
import { LocalStepFunctions } from '#local/services/step-functions';
import {
  eventually,
  historyOf,
  localClientConfig,
  rejection,
  statesEntered,
  terminalExecution,
} from './sfn-test-kit.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:persisted';
const DAY_MS = 24 * 60 * 60 * 1000;

/** `mode: 'redrive'` fails at "Flaky step" once; `mode: 'callback'` waits for SendTaskSuccess. */
const DEFINITION = {
  StartAt: 'Route',
  States: {
    Route: {
      Type: 'Choice',
      Choices: [{ Variable: '$.mode', StringEquals: 'callback', Next: 'Wait for callback' }],
      Default: 'First step',
    },
    'First step': {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'first', 'Payload.$': '$' },
      ResultSelector: { 'result.$': '$.Payload' },
      ResultPath: '$.first',
      TimeoutSeconds: 5,
      Next: 'Flaky step',
    },
    'Flaky step': {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'flaky', 'Payload.$': '$' },
      ResultSelector: { 'result.$': '$.Payload' },
      ResultPath: '$.flaky',
      TimeoutSeconds: 5,
      End: true,
    },
    'Wait for callback': {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: 'notify', Payload: { 'token.$': '$$.Task.Token' } },
      ResultPath: '$.callback',
      TimeoutSeconds: 30,
      End: true,
    },
  },
};

/** One "process" of local Step Functions: the service, its store and its endpoint. */
interface Service {
  stepFunctions: LocalStepFunctions;
  endpoint: AwsEndpoint;
  sfn: SFNClient;
}

let dir: string;
let service: Service | undefined;
let calls: Record<string, number>;
let flakyFailures: number;
let tokens: string[];

async function boot(now?: () => Date): Promise<Service> {
  const stepFunctions = new LocalStepFunctions({
    stateMachineArn: STATE_MACHINE_ARN,
    definition: DEFINITION,
    store: new ExecutionStore(dir, now ? { now } : {}),
    lambdaFunctions: {
      first: async () => {
        calls.first = (calls.first ?? 0) + 1;
        return 'first done';
      },
      flaky: async () => {
        calls.flaky = (calls.flaky ?? 0) + 1;
        if (flakyFailures > 0) {
          flakyFailures -= 1;
          throw Object.assign(new Error('not yet'), { name: 'FlakyError' });
        }
        return 'flaky done';
      },
      notify: async (payload) => {
        tokens.push((payload as { token: string }).token);
        return {};
      },
    },
  });
  const endpoint = await startAwsEndpoint({ services: { AWSStepFunctions: stepFunctions } });
  service = { stepFunctions, endpoint, sfn: new SFNClient(localClientConfig(endpoint.url)) };
  return service;
}

async function halt(): Promise<void> {
  if (!service) return;
  service.stepFunctions.shutdown();
  service.sfn.destroy();
  await service.endpoint.close();
  service = undefined;
}

/** Stops the service as local mode's Ctrl-C does and starts a new one on the same folder. */
async function restart(now?: () => Date): Promise<Service> {
  await halt();
  return boot(now);
}

async function start(sfn: SFNClient, input: object, name?: string): Promise<string> {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name, input: JSON.stringify(input) }),
  );
  return executionArn!;
}

const describeExecution = (sfn: SFNClient, executionArn: string) =>
  sfn.send(new DescribeExecutionCommand({ executionArn }));

/** The one log file in the store's folder. */
function logFile(): string {
  const files = readdirSync(dir).filter((file) => file.endsWith('.jsonl'));
  expect(files).toHaveLength(1);
  return join(dir, files[0]!);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ocp-sfn-store-'));
  calls = {};
  flakyFailures = 1;
  tokens = [];
});

afterEach(async () => {
  await halt();
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

describe('executions kept across a restart of local Step Functions', () => {
  it('keeps a failed execution whole (status, input, history, redrive fields) and redrives it at the failed state', async () => {
    let { sfn } = await boot();
    const executionArn = await start(sfn, { mode: 'redrive', value: 7 }, 'fails-then-redriven');
    const failed = await terminalExecution(sfn, executionArn);
    const history = await historyOf(sfn, executionArn);
    expect(failed).toMatchObject({ status: 'FAILED', error: 'FlakyError', redriveStatus: 'REDRIVABLE' });

    ({ sfn } = await restart());

    const { $metadata: _before, ...described } = failed;
    const { $metadata: _after, ...reloaded } = await describeExecution(sfn, executionArn);
    expect(reloaded).toEqual(described);
    expect(await historyOf(sfn, executionArn)).toEqual(history);
    const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN }));
    expect(executions?.map((execution) => [execution.executionArn, execution.status])).toEqual([
      [executionArn, 'FAILED'],
    ]);

    await sfn.send(new RedriveExecutionCommand({ executionArn }));
    const redriven = await terminalExecution(sfn, executionArn);

    expect(redriven).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1, executionArn });
    expect(calls).toEqual({ first: 1, flaky: 2 });
    expect(JSON.parse(redriven.output!)).toEqual({
      mode: 'redrive',
      value: 7,
      first: { result: 'first done' },
      flaky: { result: 'flaky done' },
    });
    const redrivenHistory = await historyOf(sfn, executionArn);
    expect(statesEntered(redrivenHistory)).toEqual(['Route', 'First step', 'Flaky step', 'Flaky step']);
    expect(redrivenHistory.map((event) => event.id)).toEqual(redrivenHistory.map((_, index) => index + 1));

    ({ sfn } = await restart());
    expect(await describeExecution(sfn, executionArn)).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
      redriveDate: redriven.redriveDate,
    });
    expect((await rejection(sfn.send(new RedriveExecutionCommand({ executionArn })))).name).toBe(
      'ExecutionNotRedrivable',
    );
  });

  it("appends each history event once to the execution's log, never rewriting it", async () => {
    const { sfn } = await boot();
    const executionArn = await start(sfn, { mode: 'redrive' });
    await terminalExecution(sfn, executionArn);
    const file = await eventually(() => readdirSync(dir).find((name) => name.endsWith('.jsonl')), 'the log');
    const inode = statSync(join(dir, file)).ino;
    await sfn.send(new RedriveExecutionCommand({ executionArn }));
    await terminalExecution(sfn, executionArn);
    const history = await historyOf(sfn, executionArn);
    await halt();

    const lines = readFileSync(logFile(), 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));

    expect(statSync(logFile()).ino).toBe(inode);
    expect(lines[0]).toMatchObject({ type: 'execution', executionArn });
    const events = lines.filter((line) => line.type === 'event').map((line) => line.event.id);
    expect(events).toEqual(history.map((event) => event.id));
    expect(lines.at(-1)).toMatchObject({ type: 'status', status: 'SUCCEEDED', redriveCount: 1 });
  });

  it('fails an execution that was running when local mode stopped with States.Runtime, and a redrive runs its state again', async () => {
    let { sfn } = await boot();
    const executionArn = await start(sfn, { mode: 'callback' }, 'running-at-stop');
    const lostToken = await eventually(() => tokens[0], 'the callback token');

    ({ sfn } = await restart());

    const failed = await describeExecution(sfn, executionArn);
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: INTERRUPTED_ERROR,
      redriveStatus: 'REDRIVABLE',
      redriveCount: 0,
    });
    expect(failed.cause).toMatch(
      /^Local mode stopped while the execution ran \(in state "Wait for callback"\)/,
    );
    expect(failed.stopDate!.getTime()).toBeGreaterThanOrEqual(failed.startDate!.getTime());
    const last = (await historyOf(sfn, executionArn)).at(-1);
    expect(last).toMatchObject({
      type: 'ExecutionFailed',
      executionFailedEventDetails: { error: INTERRUPTED_ERROR, cause: failed.cause },
    });
    const late = await rejection(
      sfn.send(new SendTaskSuccessCommand({ taskToken: lostToken, output: '{}' })),
    );
    expect(late.name).toBe('TaskTimedOut');

    await sfn.send(new RedriveExecutionCommand({ executionArn }));
    const token = await eventually(() => tokens[1], 'the token of the redriven state');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"answered":true}' }));
    const ended = await terminalExecution(sfn, executionArn);

    expect(ended).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(JSON.parse(ended.output!)).toEqual({ mode: 'callback', callback: { answered: true } });
    expect(statesEntered(await historyOf(sfn, executionArn))).toEqual([
      'Route',
      'Wait for callback',
      'Wait for callback',
    ]);
  });

  it('keeps a name taken across a restart, and frees it 90 days after the execution closed', async () => {
    let { sfn } = await boot();
    const executionArn = await start(sfn, { mode: 'redrive' }, 'once-only');
    await terminalExecution(sfn, executionArn);

    ({ sfn } = await restart());
    const reused = await rejection(start(sfn, { mode: 'redrive' }, 'once-only'));
    expect(reused.name).toBe('ExecutionAlreadyExists');

    ({ sfn } = await restart(() => new Date(Date.now() + 89 * DAY_MS)));
    expect((await describeExecution(sfn, executionArn)).status).toBe('FAILED');

    ({ sfn } = await restart(() => new Date(Date.now() + 91 * DAY_MS)));
    const gone = await rejection(describeExecution(sfn, executionArn));
    expect(gone.name).toBe('ExecutionDoesNotExist');
    expect(readdirSync(dir)).toEqual([]);
    expect(await start(sfn, { mode: 'callback' }, 'once-only')).toBe(executionArn);
  });

  it('ignores a line cut by a crash and makes the log whole again', async () => {
    let { sfn } = await boot();
    const executionArn = await start(sfn, { mode: 'redrive' });
    await terminalExecution(sfn, executionArn);
    const history = await historyOf(sfn, executionArn);
    await halt();
    appendFileSync(logFile(), '{"type":"event","event":{"id":');

    ({ sfn } = await boot());

    expect(await describeExecution(sfn, executionArn)).toMatchObject({
      status: 'FAILED',
      error: 'FlakyError',
    });
    expect(await historyOf(sfn, executionArn)).toEqual(history);
    const text = readFileSync(logFile(), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    await sfn.send(new RedriveExecutionCommand({ executionArn }));
    await terminalExecution(sfn, executionArn);
    ({ sfn } = await restart());
    expect(await describeExecution(sfn, executionArn)).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
    });
  });

  it('sets aside a file that is not an execution log, and loads the others', async () => {
    let { sfn } = await boot();
    const executionArn = await start(sfn, { mode: 'redrive' });
    await terminalExecution(sfn, executionArn);
    await halt();
    writeFileSync(join(dir, 'damaged.jsonl'), 'not json\n');
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});

    ({ sfn } = await boot());

    expect((await describeExecution(sfn, executionArn)).status).toBe('FAILED');
    // File names are hashes of the execution ARN: their order against the damaged file's varies.
    const files = readdirSync(dir);
    expect(files).toHaveLength(2);
    expect(files).toEqual(
      expect.arrayContaining([expect.stringMatching(/^[0-9a-f]+\.jsonl$/), 'damaged.jsonl.unreadable']),
    );
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/damaged\.jsonl is not an execution log/));
  });

  it("refuses a folder that holds another state machine's executions", async () => {
    const { sfn } = await boot();
    await terminalExecution(sfn, await start(sfn, { mode: 'redrive' }));
    await halt();

    const other = () =>
      new LocalStepFunctions({
        stateMachineArn: `${STATE_MACHINE_ARN}-other`,
        definition: DEFINITION,
        store: new ExecutionStore(dir),
        lambdaFunctions: {},
      });

    expect(other).toThrow(/give each state machine a store \(folder\) of its own/);
  });
});
