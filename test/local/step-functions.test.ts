import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import { type BusEvent, LocalEventBridge } from '#local/services/eventbridge';
import { type ExecutionStatusChangeDetail, LocalStepFunctions } from '#local/services/step-functions';
import {
  eventually,
  historyOf,
  localClientConfig,
  rejection,
  statesEntered,
  terminalExecution,
} from './sfn-test-kit.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:local-test';
const NOTIFY_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:notify';
const LAST_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:last';

/** A small machine covering each kind of Task resource; `mode` in the input picks the path. */
const TEST_DEFINITION = {
  StartAt: 'Route',
  States: {
    Route: {
      Type: 'Choice',
      Choices: [
        { Variable: '$.mode', StringEquals: 'timeout', Next: 'Short wait' },
        { Variable: '$.mode', StringEquals: 'redrive', Next: 'First step' },
        { Variable: '$.mode', StringEquals: 'events', Next: 'Put event' },
        { Variable: '$.mode', StringEquals: 'heartbeat', Next: 'Heartbeat wait' },
      ],
      Default: 'Prepare',
    },
    Prepare: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'prepare', Payload: { 'value.$': '$.value' } },
      ResultSelector: { 'prepared.$': '$.Payload' },
      ResultPath: '$.prepare',
      TimeoutSeconds: 5,
      Catch: [{ ErrorEquals: ['PrepareRefused'], ResultPath: '$.error', Next: 'Prepare refused' }],
      Next: 'Wait for callback',
    },
    'Wait for callback': {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: NOTIFY_ARN,
        Payload: { 'token.$': '$$.Task.Token', 'value.$': '$.value', 'execution.$': '$$.Execution.Id' },
      },
      ResultPath: '$.callback',
      TimeoutSeconds: 30,
      HeartbeatSeconds: 20,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Callback failed' }],
      Next: 'Done',
    },
    Done: { Type: 'Succeed' },
    'Callback failed': { Type: 'Pass', End: true },
    'Prepare refused': { Type: 'Pass', End: true },
    'Short wait': {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: 'notify', Payload: { 'token.$': '$$.Task.Token', 'value.$': '$.value' } },
      TimeoutSeconds: 1,
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'Timed out' }],
      End: true,
    },
    'Timed out': { Type: 'Pass', End: true },
    'Heartbeat wait': {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: 'notify', Payload: { 'token.$': '$$.Task.Token', 'value.$': '$.value' } },
      TimeoutSeconds: 30,
      HeartbeatSeconds: 1,
      Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.error', Next: 'Timed out' }],
      End: true,
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
      Next: 'Last step',
    },
    'Last step': { Type: 'Task', Resource: LAST_ARN, ResultPath: '$.last', TimeoutSeconds: 5, End: true },
    'Put event': {
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:eventbridge:putEvents',
      Parameters: {
        Entries: [
          {
            Source: 'test.workflow',
            DetailType: 'Test happened',
            'Detail.$': 'States.JsonToString($.detail)',
          },
        ],
      },
      ResultPath: '$.putEvents',
      TimeoutSeconds: 5,
      Next: 'Put no events',
    },
    'Put no events': {
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:eventbridge:putEvents',
      Parameters: { Entries: [] },
      TimeoutSeconds: 5,
      Catch: [
        { ErrorEquals: ['EventBridge.ValidationException'], ResultPath: '$.rejected', Next: 'Rejected' },
      ],
      End: true,
    },
    Rejected: { Type: 'Pass', End: true },
  },
};

class PrepareRefused extends Error {
  override readonly name = 'PrepareRefused';
}

interface NotifyPayload {
  token: string;
  value: string;
  execution?: string;
}

describe('LocalStepFunctions through the AWS endpoint', () => {
  let endpoint: AwsEndpoint;
  let stepFunctions: LocalStepFunctions;
  let bus: LocalEventBridge;
  let sfn: SFNClient;
  let notified: NotifyPayload[];
  let calls: Record<string, number>;
  let statusChanges: ExecutionStatusChangeDetail[];
  let flakyFailures: number;
  /** How far the local Step Functions' clock runs ahead of real time. */
  let clockAheadMs: number;
  const savedEventBridgeEndpoint = process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;

  const count = (name: string) => {
    calls[name] = (calls[name] ?? 0) + 1;
  };

  beforeEach(async () => {
    notified = [];
    calls = {};
    statusChanges = [];
    flakyFailures = 1;
    clockAheadMs = 0;
    bus = new LocalEventBridge({ account: '123456789012' });
    stepFunctions = new LocalStepFunctions({
      stateMachineArn: STATE_MACHINE_ARN,
      clock: () => new Date(Date.now() + clockAheadMs),
      definition: TEST_DEFINITION,
      onExecutionStatusChange: (detail) => statusChanges.push(detail),
      lambdaFunctions: {
        prepare: async (payload) => {
          count('prepare');
          const { value } = payload as { value: string };
          if (value === 'refuse') throw new PrepareRefused('the host refused');
          return `prepared ${value}`;
        },
        [NOTIFY_ARN]: async (payload) => {
          count('notify');
          notified.push(payload as NotifyPayload);
          return { accepted: true };
        },
        first: async () => {
          count('first');
          return 'first done';
        },
        flaky: async () => {
          count('flaky');
          if (flakyFailures > 0) {
            flakyFailures -= 1;
            throw Object.assign(new Error('not yet'), { name: 'FlakyError' });
          }
          return 'flaky done';
        },
        [LAST_ARN]: async (input) => {
          count('last');
          return { sawFlaky: (input as { flaky?: unknown }).flaky ?? null };
        },
      },
    });
    endpoint = await startAwsEndpoint({ services: { AWSStepFunctions: stepFunctions, AWSEvents: bus } });
    // The aws-sdk integration reaches EventBridge through the standard SDK configuration.
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = endpoint.url;
    sfn = new SFNClient(localClientConfig(endpoint.url));
  });

  afterEach(async () => {
    await stepFunctions.stopAll();
    bus.close();
    sfn.destroy();
    await endpoint.close();
    if (savedEventBridgeEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
    else process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = savedEventBridgeEndpoint;
  });

  /** Starts an execution; `mode` (which the Choice state reads) defaults to the callback path. */
  const start = async (input: object, name?: string) => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: STATE_MACHINE_ARN,
        name,
        input: JSON.stringify({ mode: 'callback', ...input }),
      }),
    );
    return executionArn!;
  };

  const tokenFor = (value: string) =>
    eventually(() => notified.find((payload) => payload.value === value)?.token, `the token of ${value}`);

  describe('lambda:invoke and waitForTaskToken', () => {
    it('completes a callback state with the output given to SendTaskSuccess', async () => {
      const executionArn = await start({ value: 'alpha' }, 'callback-success');

      const token = await tokenFor('alpha');
      await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ ok: 1 }) }));
      const ended = await terminalExecution(sfn, executionArn);

      expect(ended.status).toBe('SUCCEEDED');
      expect(JSON.parse(ended.output!)).toEqual({
        mode: 'callback',
        value: 'alpha',
        prepare: { prepared: 'prepared alpha' },
        callback: { ok: 1 },
      });
      expect(executionArn).toBe(
        `arn:aws:states:us-east-1:123456789012:execution:local-test:callback-success`,
      );
      expect(notified[0]?.execution).toBe(executionArn);
    });

    it('mints a distinct token for every state entry, never the context placeholder', async () => {
      await start({ value: 'one' });
      await start({ value: 'two' });

      const [one, two] = await Promise.all([tokenFor('one'), tokenFor('two')]);

      expect(one).not.toBe(two);
      expect(one).not.toContain('placeholder');
    });

    it('fails a callback state with the error and cause of SendTaskFailure, caught by Catch', async () => {
      const executionArn = await start({ value: 'beta' });

      const token = await tokenFor('beta');
      await sfn.send(
        new SendTaskFailureCommand({ taskToken: token, error: 'AgentDown', cause: 'no answer' }),
      );
      const ended = await terminalExecution(sfn, executionArn);

      expect(ended.status).toBe('SUCCEEDED');
      expect(JSON.parse(ended.output!).error).toEqual({ Error: 'AgentDown', Cause: 'no answer' });
      const failed = (await historyOf(sfn, executionArn)).find((event) => event.type === 'TaskFailed');
      expect(failed?.taskFailedEventDetails).toMatchObject({ error: 'AgentDown', cause: 'no answer' });
    });

    it('names a Lambda failure after its error type with the runtime error JSON as cause', async () => {
      const executionArn = await start({ value: 'refuse' });

      const ended = await terminalExecution(sfn, executionArn);

      const { error } = JSON.parse(ended.output!) as { error: { Error: string; Cause: string } };
      expect(error.Error).toBe('PrepareRefused');
      expect(JSON.parse(error.Cause)).toMatchObject({
        errorType: 'PrepareRefused',
        errorMessage: 'the host refused',
        trace: expect.any(Array),
      });
    });

    it('accepts heartbeats for a waiting task and refuses tokens that are not task tokens', async () => {
      await start({ value: 'gamma' });
      const token = await tokenFor('gamma');

      await sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
      const malformed = await rejection(sfn.send(new SendTaskHeartbeatCommand({ taskToken: 'not-a-token' })));
      const badOutput = await rejection(
        sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{' })),
      );

      expect(malformed.name).toBe('InvalidToken');
      expect(badOutput.name).toBe('InvalidOutput');
    });
  });

  describe('timeouts and stopping', () => {
    it('fails a callback state past its TimeoutSeconds with States.Timeout and refuses its late token', async () => {
      const executionArn = await start({ mode: 'timeout', value: 'late' });
      const token = await tokenFor('late');

      const ended = await terminalExecution(sfn, executionArn);
      const late = await rejection(
        sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ late: true }) })),
      );

      expect(ended.status).toBe('SUCCEEDED');
      expect(JSON.parse(ended.output!).error.Error).toBe('States.Timeout');
      expect(late.name).toBe('TaskTimedOut');
      const timedOut = (await historyOf(sfn, executionArn)).find((event) => event.type === 'TaskTimedOut');
      expect(timedOut?.taskTimedOutEventDetails).toMatchObject({
        resourceType: 'lambda',
        resource: 'invoke.waitForTaskToken',
        error: 'States.Timeout',
      });
    });

    it('aborts a stopped execution, records why, and drops its waiting token', async () => {
      const executionArn = await start({ value: 'stop-me' });
      const token = await tokenFor('stop-me');

      await sfn.send(new StopExecutionCommand({ executionArn, error: 'Cancelled', cause: 'operator' }));
      const ended = await terminalExecution(sfn, executionArn);
      const late = await rejection(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })));
      const history = await historyOf(sfn, executionArn);

      expect(ended).toMatchObject({ status: 'ABORTED', error: 'Cancelled', cause: 'operator' });
      expect(ended.stopDate).toBeInstanceOf(Date);
      expect(late.name).toBe('TaskTimedOut');
      expect(history.at(-1)).toMatchObject({
        type: 'ExecutionAborted',
        executionAbortedEventDetails: { error: 'Cancelled', cause: 'operator' },
      });
    });

    it('fails a callback state that sends no heartbeat within HeartbeatSeconds', async () => {
      const executionArn = await start({ mode: 'heartbeat', value: 'silent' });

      const ended = await terminalExecution(sfn, executionArn);

      expect(JSON.parse(ended.output!).error.Error).toBe('States.HeartbeatTimeout');
      const timedOut = (await historyOf(sfn, executionArn)).find((event) => event.type === 'TaskTimedOut');
      expect(timedOut?.taskTimedOutEventDetails?.error).toBe('States.HeartbeatTimeout');
    });

    it('redrives an aborted execution from the state it was waiting in, with a new token', async () => {
      const executionArn = await start({ value: 'resume' });
      const firstToken = await tokenFor('resume');
      await sfn.send(new StopExecutionCommand({ executionArn }));

      await sfn.send(new RedriveExecutionCommand({ executionArn }));
      const secondToken = await eventually(() => notified[1]?.token, 'the token of the redriven state');
      await sfn.send(new SendTaskSuccessCommand({ taskToken: secondToken, output: '"resumed"' }));
      const ended = await terminalExecution(sfn, executionArn);

      expect(secondToken).not.toBe(firstToken);
      expect(ended).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
      expect(calls).toEqual({ prepare: 1, notify: 2 });
      expect(JSON.parse(ended.output!).callback).toBe('resumed');
    });
  });

  describe('StartExecution names', () => {
    it('returns the running execution for the same name and input, and refuses another input', async () => {
      const first = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: STATE_MACHINE_ARN,
          name: 'same',
          input: '{"mode":"callback","value":"s"}',
        }),
      );

      const again = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: STATE_MACHINE_ARN,
          name: 'same',
          input: '{"mode":"callback","value":"s"}',
        }),
      );
      const other = await rejection(
        sfn.send(
          new StartExecutionCommand({
            stateMachineArn: STATE_MACHINE_ARN,
            name: 'same',
            input: '{"value":"t"}',
          }),
        ),
      );

      expect(again.executionArn).toBe(first.executionArn);
      expect(again.startDate).toEqual(first.startDate);
      expect(other.name).toBe('ExecutionAlreadyExists');
    });

    it('refuses a name already used by an execution that ended, even with the same input', async () => {
      const executionArn = await start({ value: 'refuse' }, 'ended');
      await terminalExecution(sfn, executionArn);

      const again = await rejection(
        sfn.send(
          new StartExecutionCommand({
            stateMachineArn: STATE_MACHINE_ARN,
            name: 'ended',
            input: JSON.stringify({ mode: 'callback', value: 'refuse' }),
          }),
        ),
      );

      expect(again.name).toBe('ExecutionAlreadyExists');
    });

    it('refuses an unknown state machine, an invalid name and input that is not JSON', async () => {
      const unknown = await rejection(
        sfn.send(new StartExecutionCommand({ stateMachineArn: `${STATE_MACHINE_ARN}-other`, input: '{}' })),
      );
      const badName = await rejection(
        sfn.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'a b', input: '{}' })),
      );
      const badInput = await rejection(
        sfn.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, input: '{oops' })),
      );

      expect(unknown.name).toBe('StateMachineDoesNotExist');
      expect(badName.name).toBe('InvalidName');
      expect(badInput.name).toBe('InvalidExecutionInput');
    });
  });

  describe('history, listing and status events', () => {
    it('returns the history in the AWS shape, with paging and reverse order', async () => {
      const executionArn = await start({ value: 'delta' });
      const token = await tokenFor('delta');
      await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '"done"' }));
      await terminalExecution(sfn, executionArn);

      const history = await historyOf(sfn, executionArn);

      expect(history.map((event) => event.type)).toEqual([
        'ExecutionStarted',
        'ChoiceStateEntered',
        'ChoiceStateExited',
        'TaskStateEntered',
        'TaskScheduled',
        'TaskStarted',
        'TaskSucceeded',
        'TaskStateExited',
        'TaskStateEntered',
        'TaskScheduled',
        'TaskStarted',
        'TaskSubmitted',
        'TaskSucceeded',
        'TaskStateExited',
        'SucceedStateEntered',
        'SucceedStateExited',
        'ExecutionSucceeded',
      ]);
      history.forEach((event, index) => {
        expect(event.id).toBe(index + 1);
        expect(event.previousEventId).toBe(index);
        expect(event.timestamp).toBeInstanceOf(Date);
      });
      expect(history[0]?.executionStartedEventDetails?.input).toBe(
        JSON.stringify({ mode: 'callback', value: 'delta' }),
      );
      expect(history[3]?.stateEnteredEventDetails?.name).toBe('Prepare');
      const scheduled = history[9]?.taskScheduledEventDetails;
      expect(scheduled).toMatchObject({
        resourceType: 'lambda',
        resource: 'invoke.waitForTaskToken',
        region: 'us-east-1',
        timeoutInSeconds: 30,
        heartbeatInSeconds: 20,
      });
      expect(JSON.parse(scheduled!.parameters!).Payload.token).toBe(token);
      expect(history[12]?.taskSucceededEventDetails?.output).toBe('"done"');
      expect(history.at(-1)?.executionSucceededEventDetails?.output).toContain('"callback":"done"');

      const pages: HistoryEvent[] = [];
      let nextToken: string | undefined;
      do {
        const page = await sfn.send(
          new GetExecutionHistoryCommand({ executionArn, maxResults: 5, nextToken }),
        );
        pages.push(...(page.events ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
      const reversed = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true }));
      expect(pages).toEqual(history);
      expect(reversed.events).toEqual([...history].reverse());
    });

    it('lists the executions of the state machine, filtered by status', async () => {
      const refused = await start({ value: 'refuse' });
      await terminalExecution(sfn, refused);
      const waiting = await start({ value: 'waiting' });

      const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN }));
      const running = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING' }),
      );

      expect(all.executions?.map((execution) => execution.executionArn)).toEqual([waiting, refused]);
      expect(running.executions?.map((execution) => execution.executionArn)).toEqual([waiting]);
    });

    it('reports each status change with the detail of the EventBridge event, dates in epoch ms', async () => {
      const executionArn = await start({ value: 'refuse' });
      await terminalExecution(sfn, executionArn);

      expect(statusChanges.map((change) => change.status)).toEqual(['RUNNING', 'SUCCEEDED']);
      expect(statusChanges[1]).toMatchObject({
        executionArn,
        stateMachineArn: STATE_MACHINE_ARN,
        input: JSON.stringify({ mode: 'callback', value: 'refuse' }),
        error: null,
      });
      expect(statusChanges[1]?.startDate).toBeTypeOf('number');
      expect(statusChanges[1]?.stopDate).toBeGreaterThanOrEqual(statusChanges[1]!.startDate);
    });
  });

  describe('RedriveExecution', () => {
    it('resumes a failed execution at the failed state only, keeping its ARN and history', async () => {
      const executionArn = await start({ mode: 'redrive' }, 'redrive-me');
      const failed = await terminalExecution(sfn, executionArn);
      expect(failed).toMatchObject({ status: 'FAILED', error: 'FlakyError', redriveStatus: 'REDRIVABLE' });

      await sfn.send(new RedriveExecutionCommand({ executionArn }));
      const ended = await terminalExecution(sfn, executionArn);
      const history = await historyOf(sfn, executionArn);

      expect(ended).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
      expect(calls).toEqual({ first: 1, flaky: 2, last: 1 });
      expect(JSON.parse(ended.output!)).toMatchObject({
        first: { result: 'first done' },
        flaky: { result: 'flaky done' },
        last: { sawFlaky: { result: 'flaky done' } },
      });
      expect(history.filter((event) => event.type === 'ExecutionStarted')).toHaveLength(1);
      expect(history.map((event) => event.type)).toContain('ExecutionRedriven');
      expect(statesEntered(history)).toEqual([
        'Route',
        'First step',
        'Flaky step',
        'Flaky step',
        'Last step',
      ]);
    });

    it('is PENDING_REDRIVE, and not redrivable again, until the redriven run starts', async () => {
      const executionArn = await start({ mode: 'redrive' }, 'pending-redrive');
      await terminalExecution(sfn, executionArn);
      const release = stepFunctions.holdRedrives();
      try {
        await sfn.send(new RedriveExecutionCommand({ executionArn }));

        expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
          status: 'PENDING_REDRIVE',
          redriveCount: 1,
          redriveStatus: 'NOT_REDRIVABLE',
        });
        // AWS filters on PENDING_REDRIVE for a Map Run's children only: list them all.
        const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN }));
        expect(listed.executions?.find((execution) => execution.executionArn === executionArn)?.status).toBe(
          'PENDING_REDRIVE',
        );
        const again = await rejection(sfn.send(new RedriveExecutionCommand({ executionArn })));
        expect(again.name).toBe('ExecutionNotRedrivable');
        expect(calls).toEqual({ first: 1, flaky: 1 });
      } finally {
        release();
      }
      expect(await terminalExecution(sfn, executionArn)).toMatchObject({
        status: 'SUCCEEDED',
        redriveCount: 1,
      });
      expect(calls).toEqual({ first: 1, flaky: 2, last: 1 });
    });

    it('refuses to redrive an execution 14 days after it ended, as AWS does', async () => {
      const executionArn = await start({ mode: 'redrive' }, 'too-old');
      await terminalExecution(sfn, executionArn);
      const day = 86_400_000;

      clockAheadMs = 14 * day - 60_000;
      expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
        redriveStatus: 'REDRIVABLE',
      });
      clockAheadMs = 14 * day;
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      const refused = await rejection(sfn.send(new RedriveExecutionCommand({ executionArn })));

      expect(described).toMatchObject({
        status: 'FAILED',
        redriveStatus: 'NOT_REDRIVABLE',
        redriveStatusReason: 'Execution redrivable period exceeded.',
      });
      expect(refused.name).toBe('ExecutionNotRedrivable');
      expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
        status: 'FAILED',
        redriveCount: 0,
      });
      expect(calls).toEqual({ first: 1, flaky: 1 });
    });

    it('refuses to redrive an execution that succeeded', async () => {
      const executionArn = await start({ value: 'refuse' });
      await terminalExecution(sfn, executionArn);

      const refused = await rejection(sfn.send(new RedriveExecutionCommand({ executionArn })));

      expect(refused.name).toBe('ExecutionNotRedrivable');
    });
  });

  describe('AWS SDK integrations', () => {
    it('puts events on the local bus with aws-sdk:eventbridge:putEvents and names SDK errors', async () => {
      const delivered: BusEvent[] = [];
      bus.addRule({
        name: 'workflow-events',
        pattern: { source: ['test.workflow'] },
        target: async (event) => {
          delivered.push(event);
        },
      });

      const executionArn = await start({ mode: 'events', detail: { taskId: 7 } });
      const ended = await terminalExecution(sfn, executionArn);
      const event = await eventually(() => delivered[0], 'the event on the bus');

      const output = JSON.parse(ended.output!);
      expect(ended.status).toBe('SUCCEEDED');
      expect(output.putEvents).toEqual({ FailedEntryCount: 0, Entries: [{ EventId: event.id }] });
      expect(output.rejected.Error).toBe('EventBridge.ValidationException');
      expect(event).toMatchObject({
        source: 'test.workflow',
        'detail-type': 'Test happened',
        detail: { taskId: 7 },
      });
    });
  });
});
