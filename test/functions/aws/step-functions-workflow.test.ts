import {
  DescribeExecutionCommand,
  RedriveExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { StepFunctionsWorkflow } from '../../../functions/aws/step-functions-workflow.ts';
import { ExecutionNotFound, ExecutionNotRedrivable } from '../../../functions/use-cases/ports.ts';

const client = new SFNClient({});
const sfnMock = mockClient(client);
const workflow = new StepFunctionsWorkflow(client);
const ARN = 'arn:aws:states:us-east-1:1:execution:sm:task-1';
const sdkError = (name: string) => Object.assign(new Error(`${name} from Step Functions`), { name });

beforeEach(() => sfnMock.reset());

describe('StepFunctionsWorkflow', () => {
  it('starts the named execution with its input as JSON', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: ARN, startDate: new Date() });
    const input = { taskId: 1, hostId: 2, instanceId: 'mi-1', agentHome: '/a', controlScript: 'bin/c' };

    await workflow.startExecution('arn:aws:states:us-east-1:1:stateMachine:sm', 'task-1', input);

    expect(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
      stateMachineArn: 'arn:aws:states:us-east-1:1:stateMachine:sm',
      name: 'task-1',
      input: JSON.stringify(input),
    });
  });

  it.each([
    ['ExecutionDoesNotExist', 'ExecutionNotFound', ExecutionNotFound],
    ['ExecutionNotRedrivable', 'the port’s ExecutionNotRedrivable', ExecutionNotRedrivable],
  ])('turns a redrive refused with %s into %s, naming the execution', async (code, _name, ported) => {
    sfnMock.on(RedriveExecutionCommand).rejects(sdkError(code));

    const refusal = await workflow.redrive(ARN).catch((error: unknown) => error);

    expect(refusal).toBeInstanceOf(ported);
    expect(refusal).toMatchObject({ executionArn: ARN, cause: expect.objectContaining({ name: code }) });
  });

  it('lets any other redrive error through as it is', async () => {
    sfnMock.on(RedriveExecutionCommand).rejects(sdkError('ThrottlingException'));

    await expect(workflow.redrive(ARN)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('stops an execution with the error and cause given', async () => {
    sfnMock.on(StopExecutionCommand).resolves({ stopDate: new Date() });

    await workflow.stop(ARN, 'SubtaskCancelled', 'Cancelled by an operator');

    expect(sfnMock.commandCalls(StopExecutionCommand)[0]!.args[0].input).toEqual({
      executionArn: ARN,
      error: 'SubtaskCancelled',
      cause: 'Cancelled by an operator',
    });
  });

  it('describes an execution by the fields the sweep reads, with its input', async () => {
    const stopDate = new Date('2026-12-01T10:00:00Z');
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      stateMachineArn: 'sm',
      status: 'FAILED',
      startDate: new Date('2026-12-01T09:59:00Z'),
      stopDate,
      error: 'SubtaskFailed',
      cause: 'boom',
      input: '{"instanceId":"mi-1"}',
    });

    await expect(workflow.describe(ARN)).resolves.toEqual({
      status: 'FAILED',
      stopDate,
      error: 'SubtaskFailed',
      cause: 'boom',
      input: '{"instanceId":"mi-1"}',
    });
  });

  it('describes an execution that does not exist as undefined, and lets other errors through', async () => {
    sfnMock
      .on(DescribeExecutionCommand)
      .rejectsOnce(sdkError('ExecutionDoesNotExist'))
      .rejectsOnce(sdkError('AccessDeniedException'));

    await expect(workflow.describe(ARN)).resolves.toBeUndefined();
    await expect(workflow.describe(ARN)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('completes a succeeded step with its output as JSON, and fails a failed one with its error and cause', async () => {
    sfnMock.on(SendTaskSuccessCommand).resolves({});
    sfnMock.on(SendTaskFailureCommand).resolves({});

    await expect(
      workflow.completeStep('t1', { status: 'SUCCEEDED', output: { commandId: 'c', exitCode: 0 } }),
    ).resolves.toEqual({ completed: true });
    await expect(
      workflow.completeStep('t2', { status: 'FAILED', error: 'SubtaskFailed', cause: 'exit 1' }),
    ).resolves.toEqual({ completed: true });

    expect(sfnMock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input).toEqual({
      taskToken: 't1',
      output: '{"commandId":"c","exitCode":0}',
    });
    expect(sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toEqual({
      taskToken: 't2',
      error: 'SubtaskFailed',
      cause: 'exit 1',
    });
  });

  it.each(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken'] as const)(
    'answers a step that had ended already (%s) instead of throwing',
    async (code) => {
      sfnMock.on(SendTaskSuccessCommand).rejects(sdkError(code));
      sfnMock.on(SendTaskFailureCommand).rejects(sdkError(code));

      await expect(workflow.completeStep('t', { status: 'SUCCEEDED', output: {} })).resolves.toEqual({
        completed: false,
        alreadyEnded: code,
      });
      await expect(workflow.completeStep('t', { status: 'FAILED', error: 'SubtaskFailed' })).resolves.toEqual(
        {
          completed: false,
          alreadyEnded: code,
        },
      );
    },
  );

  it('lets any other completion error through', async () => {
    sfnMock.on(SendTaskSuccessCommand).rejects(sdkError('ThrottlingException'));

    await expect(workflow.completeStep('t', { status: 'SUCCEEDED', output: {} })).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });
});
