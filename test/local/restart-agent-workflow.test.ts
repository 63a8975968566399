import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  RedriveExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RESTART_SUBTASKS } from '#core/subtasks';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import { LocalStepFunctions, substituteDefinition } from '#local/services/step-functions';
import { LAMBDA_FUNCTIONS } from '../../functions/catalog.ts';
import { historyOf, localClientConfig, statesEntered, terminalExecution } from './sfn-test-kit.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:restart-agent';
const RUN_SUBTASK_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:run-subtask';
const FINISH_TASK_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:finish-task';

/** The one ASL file, filled the way the stack fills it. */
function restartAgentDefinition(): object {
  const text = readFileSync(
    resolve(import.meta.dirname, '../../statemachine/restart-agent.asl.json'),
    'utf8',
  );
  return substituteDefinition(text, {
    [LAMBDA_FUNCTIONS.runSubtask.aslPlaceholder]: RUN_SUBTASK_ARN,
    [LAMBDA_FUNCTIONS.finishTask.aslPlaceholder]: FINISH_TASK_ARN,
  });
}

interface RunSubtaskPayload {
  subtaskIndex: number;
  taskId: number;
  instanceId: string;
  agentHome: string;
  controlScript: string;
  taskToken: string;
}

// Tracks statemachine/restart-agent.asl.json as it is: a failing subtask fails the execution at its own
// state (so that a retry can redrive from it) and the execution status event ends the task record.
describe('the restart-agent state machine, run locally', () => {
  let endpoint: AwsEndpoint;
  let stepFunctions: LocalStepFunctions;
  let sfn: SFNClient;
  let subtasksRun: RunSubtaskPayload[];
  let finished: unknown[];
  let failingSubtask: number | undefined;

  beforeEach(async () => {
    subtasksRun = [];
    finished = [];
    failingSubtask = undefined;
    stepFunctions = new LocalStepFunctions({
      stateMachineArn: STATE_MACHINE_ARN,
      definition: restartAgentDefinition(),
      lambdaFunctions: {
        // Stands in for run-subtask + the command's callback: completes the step through the API.
        [RUN_SUBTASK_ARN]: async (payload) => {
          const input = payload as RunSubtaskPayload;
          subtasksRun.push(input);
          const { taskToken, subtaskIndex } = input;
          const complete = () =>
            subtaskIndex === failingSubtask
              ? sfn.send(
                  new SendTaskFailureCommand({ taskToken, error: 'SubtaskFailed', cause: 'exit code 1' }),
                )
              : sfn.send(
                  new SendTaskSuccessCommand({
                    taskToken,
                    output: JSON.stringify({ commandId: `command-${subtaskIndex}`, exitCode: 0 }),
                  }),
                );
          setImmediate(() => void complete());
          return { commandId: `command-${input.subtaskIndex}` };
        },
        [FINISH_TASK_ARN]: async (payload) => {
          finished.push(payload);
          return { status: 'SUCCESSFUL' };
        },
      },
    });
    endpoint = await startAwsEndpoint({ services: { AWSStepFunctions: stepFunctions } });
    sfn = new SFNClient(localClientConfig(endpoint.url));
  });

  afterEach(async () => {
    await stepFunctions.stopAll();
    sfn.destroy();
    await endpoint.close();
  });

  const startTask = async (taskId: number, extra: object = {}) => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: STATE_MACHINE_ARN,
        name: `task-${taskId}`,
        input: JSON.stringify({
          taskId,
          hostId: 1,
          instanceId: 'i-0123456789abcdef0',
          agentHome: '/home/admin/ocp_agent',
          controlScript: 'bin/ocp_agentctl',
          ...extra,
        }),
      }),
    );
    return executionArn!;
  };

  it('runs the five subtasks in order, each completed by its callback, then records success', async () => {
    const executionArn = await startTask(1001);

    const ended = await terminalExecution(sfn, executionArn);
    const history = await historyOf(sfn, executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    expect(statesEntered(history)).toEqual([
      'Choose operation',
      ...RESTART_SUBTASKS.map((subtask) => subtask.name),
      'Record task success',
    ]);
    expect(subtasksRun.map((run) => run.subtaskIndex)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(subtasksRun.map((run) => run.taskToken)).size).toBe(5);
    expect(subtasksRun[0]).toMatchObject({ taskId: 1001, instanceId: 'i-0123456789abcdef0' });
    expect(finished).toEqual([{ taskId: 1001 }]);
  });

  it('fails the execution at the failed subtask with its error, without recording success', async () => {
    failingSubtask = 2;
    const executionArn = await startTask(1002);

    const ended = await terminalExecution(sfn, executionArn);
    const history = await historyOf(sfn, executionArn);

    expect(ended).toMatchObject({
      status: 'FAILED',
      error: 'SubtaskFailed',
      cause: 'exit code 1',
      redriveStatus: 'REDRIVABLE',
    });
    expect(statesEntered(history)).toEqual([
      'Choose operation',
      ...RESTART_SUBTASKS.slice(0, 3).map((subtask) => subtask.name),
    ]);
    expect(history.map((event) => event.type).slice(-2)).toEqual(['TaskFailed', 'ExecutionFailed']);
    expect(finished).toEqual([]);
  });

  it('redrives a failed execution from the failed subtask, leaving the earlier ones alone', async () => {
    failingSubtask = 2;
    const executionArn = await startTask(1003);
    await terminalExecution(sfn, executionArn);

    failingSubtask = undefined;
    await sfn.send(new RedriveExecutionCommand({ executionArn }));
    const ended = await terminalExecution(sfn, executionArn);

    expect(ended).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(subtasksRun.map((run) => run.subtaskIndex)).toEqual([0, 1, 2, 2, 3, 4]);
    expect(finished).toEqual([{ taskId: 1003 }]);
  });

  it('rolls back by starting the agent only', async () => {
    const executionArn = await startTask(1004, { operation: 'ROLLBACK' });

    const ended = await terminalExecution(sfn, executionArn);
    const history = await historyOf(sfn, executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    expect(statesEntered(history)).toEqual([
      'Choose operation',
      'Roll back: start all OCP agent processes',
      'Record task success',
    ]);
    expect(subtasksRun.map((run) => run.subtaskIndex)).toEqual([3]);
  });
});
