import { DescribeExecutionCommand, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HOST_WORK_ARN,
  type HostBehaviour,
  type HostWorkService,
  startHostWorkService,
} from './host-work-fixture.ts';
import { eventually, historyOf, terminalExecution } from './sfn-test-kit.ts';

const PARENT_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:start-host-work';
const childArnOf = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:host-work:${name}`;

describe('states:startExecution.sync:2, run locally', () => {
  let service: HostWorkService;

  beforeEach(async () => {
    service = await startHostWorkService('start-host-work.asl.json', PARENT_ARN);
  });

  afterEach(async () => {
    await service.close();
  });

  const startParent = async (name: string, host: string, behaviour: HostBehaviour, childName = name) => {
    const { executionArn } = await service.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: PARENT_ARN,
        name,
        input: JSON.stringify({ host, behaviour, childName }),
      }),
    );
    return executionArn!;
  };

  it("starts the named machine's execution and returns its output as JSON", async () => {
    const parentArn = await startParent('deploy-h1', 'h1', 'succeed');

    const ended = await terminalExecution(service.sfn, parentArn);

    expect(ended.status).toBe('SUCCEEDED');
    expect(JSON.parse(ended.output!)).toEqual({
      childArn: childArnOf('deploy-h1'),
      childOutput: { host: 'h1', done: true },
    });
    const child = await service.sfn.send(
      new DescribeExecutionCommand({ executionArn: childArnOf('deploy-h1') }),
    );
    expect(child).toMatchObject({ stateMachineArn: HOST_WORK_ARN, status: 'SUCCEEDED' });
    expect(JSON.parse(child.input!)).toEqual({
      host: 'h1',
      behaviour: 'succeed',
      AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: parentArn,
    });
  });

  it('records the task as AWS does: scheduled, started, submitted with the start, succeeded with the description', async () => {
    const parentArn = await startParent('history-h1', 'h1', 'succeed');
    await terminalExecution(service.sfn, parentArn);

    const events = await historyOf(service.sfn, parentArn);

    expect(events.map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    const scheduled = events.find((event) => event.type === 'TaskScheduled')!.taskScheduledEventDetails!;
    expect(scheduled).toMatchObject({ resourceType: 'states', resource: 'startExecution.sync:2' });
    const submitted = JSON.parse(
      events.find((event) => event.type === 'TaskSubmitted')!.taskSubmittedEventDetails!.output!,
    );
    expect(submitted).toEqual({ ExecutionArn: childArnOf('history-h1'), StartDate: expect.any(Number) });
    const succeeded = JSON.parse(
      events.find((event) => event.type === 'TaskSucceeded')!.taskSucceededEventDetails!.output!,
    );
    expect(succeeded).toMatchObject({
      ExecutionArn: childArnOf('history-h1'),
      StateMachineArn: HOST_WORK_ARN,
      Name: 'history-h1',
      Status: 'SUCCEEDED',
      Input: { host: 'h1', behaviour: 'succeed' },
      InputDetails: { Included: true },
      Output: { host: 'h1', done: true },
      OutputDetails: { Included: true },
      StartDate: expect.any(Number),
      StopDate: expect.any(Number),
      RedriveCount: 0,
      RedriveStatus: 'NOT_REDRIVABLE',
    });
  });

  it("fails the task with States.TaskFailed, the failed child's description as cause", async () => {
    const parentArn = await startParent('deploy-h2', 'h2', 'fail');

    const ended = await terminalExecution(service.sfn, parentArn);

    expect(ended).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed' });
    expect(JSON.parse(ended.cause!)).toMatchObject({
      ExecutionArn: childArnOf('deploy-h2'),
      Status: 'FAILED',
      Error: 'HostUnreachable',
      Cause: expect.stringContaining('h2 does not answer'),
    });
  });

  it('stops the running child when the parent execution is stopped', async () => {
    const parentArn = await startParent('deploy-h3', 'h3', 'hold');
    await eventually(() => (service.held() === 1 ? true : undefined), 'the child to start its work');

    await service.sfn.send(new StopExecutionCommand({ executionArn: parentArn }));
    const child = await terminalExecution(service.sfn, childArnOf('deploy-h3'));

    expect(child.status).toBe('ABORTED');
    const parent = await service.sfn.send(new DescribeExecutionCommand({ executionArn: parentArn }));
    expect(parent.status).toBe('ABORTED');
  });

  it('fails with StepFunctions.ExecutionAlreadyExistsException when the child name ran with another input', async () => {
    const first = await startParent('first', 'h4', 'succeed', 'shared-child');
    await terminalExecution(service.sfn, first);

    const second = await startParent('second', 'h5', 'succeed', 'shared-child');
    const ended = await terminalExecution(service.sfn, second);

    expect(ended).toMatchObject({ status: 'FAILED', error: 'StepFunctions.ExecutionAlreadyExistsException' });
    expect(ended.cause).toContain('Error Code: ExecutionAlreadyExists');
    expect(service.calls.map((call) => call.host)).toEqual(['h4']);
  });

  it('refuses a child name a running child holds with another input, leaving that child running', async () => {
    await startParent('one', 'h6', 'hold', 'busy-child');
    await eventually(() => (service.held() === 1 ? true : undefined), 'the child to start its work');

    // The same host, but another parent: the input differs by AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.
    const second = await startParent('two', 'h6', 'hold', 'busy-child');
    const ended = await terminalExecution(service.sfn, second);

    expect(ended).toMatchObject({ status: 'FAILED', error: 'StepFunctions.ExecutionAlreadyExistsException' });
    const child = await service.sfn.send(
      new DescribeExecutionCommand({ executionArn: childArnOf('busy-child') }),
    );
    expect(child.status).toBe('RUNNING');
  });
});
