import { randomUUID } from 'node:crypto';
import type { DescribeExecutionOutput } from '@aws-sdk/client-sfn';
import { AwsError } from '#local/local-service';
import type { LocalStateMachines } from '#local/services/state-machines';
import {
  asObject,
  type JsonValue,
  type StartExecutionPattern,
  StateError,
  type TaskContext,
} from '#local/services/step-functions-tasks';

/**
 * `arn:aws:states:::states:startExecution[.sync[:2]]`: starts an execution of a served state machine
 * (Parameters StateMachineArn, Input, Name) exactly as StartExecution does, names included (same name and
 * input while it runs: the same execution; otherwise ExecutionAlreadyExists). The request-response form
 * returns StartExecution's answer; `.sync` and `.sync:2` wait for the child to end and return what
 * DescribeExecution says of it, `.sync:2` with Input and Output as JSON. A child that does not succeed
 * fails the task with `States.TaskFailed`, that description as cause. When the task is aborted (the
 * parent stopped, the state timed out), AWS "will call the Step Functions StopExecution API action" on
 * the child ("Run a Job (.sync)" in the Step Functions developer guide): so does this.
 */
export async function startExecution(
  machines: LocalStateMachines,
  pattern: StartExecutionPattern,
  parameters: JsonValue,
  context: TaskContext,
): Promise<JsonValue> {
  const { StateMachineArn, Input, Name } = asObject(
    parameters,
    'states:startExecution needs Parameters with StateMachineArn',
  );
  const request = {
    stateMachineArn: StateMachineArn,
    ...(Name === undefined ? {} : { name: Name }),
    // AWS: "If you don't include any JSON input data, you still must include the two braces".
    input:
      Input === undefined || Input === null
        ? '{}'
        : typeof Input === 'string'
          ? Input
          : JSON.stringify(Input),
  };
  let started: { executionArn: string; startDate: Date };
  try {
    started = (await machines.handle('StartExecution', request)) as typeof started;
  } catch (error) {
    throw serviceError(error);
  }
  const submission = { ExecutionArn: started.executionArn, StartDate: started.startDate.getTime() };
  if (pattern === 'request-response') return submission;
  context.submitted(submission);
  const stopChild = () => {
    machines.handle('StopExecution', { executionArn: started.executionArn }).catch(() => {
      // Best effort, as on AWS: the child may have ended meanwhile.
    });
  };
  if (context.signal.aborted) stopChild();
  context.signal.addEventListener('abort', stopChild, { once: true });
  try {
    const ended = await machines.whenClosed(started.executionArn);
    const result = executionRecord(ended, pattern === 'sync:2');
    if (ended.status === 'SUCCEEDED') return result;
    throw new StateError('States.TaskFailed', JSON.stringify(result));
  } finally {
    context.signal.removeEventListener('abort', stopChild);
  }
}

/**
 * An execution as Step Functions' integrations report it: DescribeExecution's fields, PascalCase, dates
 * in epoch milliseconds; Input and Output as JSON when `parseData` (`.sync:2`), else as the strings kept.
 */
export function executionRecord(
  execution: DescribeExecutionOutput,
  parseData: boolean,
): Record<string, JsonValue> {
  const data = (text: string | undefined) =>
    text === undefined ? undefined : parseData ? (JSON.parse(text) as JsonValue) : text;
  const record: Record<string, JsonValue | undefined> = {
    ExecutionArn: execution.executionArn,
    StateMachineArn: execution.stateMachineArn,
    MapRunArn: execution.mapRunArn,
    Name: execution.name,
    Status: execution.status,
    StartDate: execution.startDate?.getTime(),
    StopDate: execution.stopDate?.getTime(),
    Input: data(execution.input),
    InputDetails: { Included: true },
    Output: data(execution.output),
    OutputDetails: execution.output === undefined ? undefined : { Included: true },
    Error: execution.error,
    Cause: execution.cause,
    RedriveCount: execution.redriveCount,
    RedriveDate: execution.redriveDate?.getTime(),
    RedriveStatus: execution.redriveStatus,
    RedriveStatusReason: execution.redriveStatusReason,
  };
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Record<
    string,
    JsonValue
  >;
}

/** A refused StartExecution, as the optimized integration names it (recorded from AWS). */
function serviceError(error: unknown): Error {
  if (!(error instanceof AwsError)) return error instanceof Error ? error : new Error(String(error));
  const name = error.code.endsWith('Exception') ? error.code : `${error.code}Exception`;
  return new StateError(
    `StepFunctions.${name}`,
    `${error.message} (Service: AWSStepFunctions; Status Code: ${error.statusCode}; Error Code: ${error.code}; Request ID: ${randomUUID()}; Proxy: null)`,
  );
}
