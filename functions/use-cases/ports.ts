import type { BatchExecutionInput } from '#core/batch-execution';
import type { CommandInvocation, InstancePing } from '#core/command-outcome';
import type { ExecutionView } from '#core/execution-sweep';
import type { RestartExecutionInput } from './start-restart-task.ts';

/** The input of an execution of one of the product's state machines: a host's restart, or a batch's. */
export type ExecutionInput = RestartExecutionInput | BatchExecutionInput;

/** The workflows' executions and waiting steps (Step Functions, on AWS and locally). */
export interface Workflow {
  /** Starts the state machine's execution `name` with the input. */
  startExecution(stateMachineArn: string, name: string, input: ExecutionInput): Promise<void>;
  /** Runs a failed execution again from its failed state; throws ExecutionNotFound or ExecutionNotRedrivable. */
  redrive(executionArn: string): Promise<void>;
  /** Stops a running execution, failing it with the error and cause. */
  stop(executionArn: string, error: string, cause: string): Promise<void>;
  /** How the execution stands, with its input; undefined when it does not exist. */
  describe(executionArn: string): Promise<ExecutionDescription | undefined>;
  /** Completes the step waiting for the task token; a step that had ended already is an answer, not an error. */
  completeStep(taskToken: string, outcome: StepOutcome): Promise<StepCompletion>;
}

export interface ExecutionDescription extends ExecutionView {
  /** The execution's input, as given to StartExecution. */
  input?: string;
}

/** How a waiting step ends: with its output, or failed with an error name and cause. */
export type StepOutcome =
  | { status: 'SUCCEEDED'; output: Record<string, unknown> }
  | { status: 'FAILED'; error: string; cause?: string };

/** Why a step could not be completed: it had timed out, been stopped, or been completed before. */
export type StepAlreadyEnded = 'TaskTimedOut' | 'TaskDoesNotExist' | 'InvalidToken';

export type StepCompletion = { completed: true } | { completed: false; alreadyEnded: StepAlreadyEnded };

/** Commands run on managed hosts (SSM Run Command, on AWS and locally). */
export interface HostCommands {
  /**
   * Sends the command; resolves with its id (undefined if SSM gave none). Throws InstanceNotCommandable
   * when SSM refuses it because of the instance.
   */
  send(command: HostCommand): Promise<string | undefined>;
  /** Asks SSM to cancel the command on every instance it was sent to. */
  cancel(commandId: string): Promise<void>;
  /** The command's invocation on the instance; undefined when SSM has none (yet). */
  invocation(commandId: string, instanceId: string): Promise<CommandInvocation | undefined>;
  /** Resolves once the invocation has ended or maxWaitSeconds have passed, whichever comes first. */
  waitForEnd(commandId: string, instanceId: string, maxWaitSeconds: number): Promise<void>;
  /** The instance's ping status; NotRegistered when SSM does not manage it. */
  instancePing(instanceId: string): Promise<InstancePing>;
  /** Each instance's ping status, asked for many at once; NotRegistered for one SSM does not manage. */
  instancePings(instanceIds: readonly string[]): Promise<Map<string, InstancePing>>;
}

/** One document run on one instance. */
export interface HostCommand {
  documentName: string;
  instanceId: string;
  /** The document's parameters, one value each. */
  parameters: Record<string, string>;
  /** At most 100 characters (SendCommand's limit). */
  comment: string;
  /** How long SSM tries to deliver the command (SendCommand's TimeoutSeconds). */
  deliveryTimeoutSeconds: number;
  /** Where SSM also writes the command's full output; without it only SSM's inline output is kept. */
  outputLogGroup?: string;
}

/** The execution does not exist: never started, or no longer kept by Step Functions. */
export class ExecutionNotFound extends Error {
  override readonly name = 'ExecutionNotFound';
  constructor(
    readonly executionArn: string,
    options?: ErrorOptions,
  ) {
    super(`Execution ${executionArn} does not exist`, options);
  }
}

/** The execution cannot be redriven: it has not failed, or its redrive window has passed. */
export class ExecutionNotRedrivable extends Error {
  override readonly name = 'ExecutionNotRedrivable';
  constructor(
    readonly executionArn: string,
    options?: ErrorOptions,
  ) {
    super(`Execution ${executionArn} cannot be redriven`, options);
  }
}

/** SSM refused a command because of its instance: it does not manage it, or cannot run the document there. */
export class InstanceNotCommandable extends Error {
  override readonly name = 'InstanceNotCommandable';
  constructor(
    readonly instanceId: string,
    /** SSM's error code, e.g. InvalidInstanceId. */
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Event buses (EventBridge, on AWS and locally). */
export interface EventBus {
  /** Puts up to ten events in one call; resolves with how many EventBridge refused. */
  put(events: readonly BusEvent[]): Promise<{ failedCount: number }>;
}

export interface BusEvent {
  busName: string;
  source: string;
  detailType: string;
  /** The detail, as JSON. */
  detail: string;
  resources?: string[];
}

/** Message queues (SQS, on AWS and locally). */
export interface MessageQueues {
  send(queueUrl: string, body: string): Promise<void>;
}
