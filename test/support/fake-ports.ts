import type { CommandInvocation, InstancePing } from '../../functions/core/command-outcome.ts';
import type {
  BusEvent,
  EventBus,
  ExecutionDescription,
  ExecutionInput,
  HostCommand,
  HostCommands,
  MessageQueues,
  StepAlreadyEnded,
  StepCompletion,
  StepOutcome,
  Workflow,
} from '../../functions/use-cases/ports.ts';

/** Errors a fake throws from a method while set, instead of answering. */
type Failures<Port> = Partial<Record<keyof Port, Error>>;

function failIfSet<Port>(failing: Failures<Port>, method: keyof Port): void {
  const error = failing[method];
  if (error) throw error;
}

/** An in-memory workflow: records every call; describe answers from `executions`. */
export class FakeWorkflow implements Workflow {
  readonly started: { stateMachineArn: string; name: string; input: ExecutionInput }[] = [];
  readonly redriven: string[] = [];
  readonly stopped: { executionArn: string; error: string; cause: string }[] = [];
  readonly completed: { taskToken: string; outcome: StepOutcome }[] = [];
  readonly described: string[] = [];
  /** What describe answers, by execution ARN (an error: describe throws it); an ARN not here does not exist. */
  readonly executions = new Map<string, ExecutionDescription | Error>();
  /** Steps that have ended, by task token: completing one answers why instead. */
  readonly endedSteps = new Map<string, StepAlreadyEnded>();
  readonly failing: Failures<Workflow> = {};

  async startExecution(stateMachineArn: string, name: string, input: ExecutionInput): Promise<void> {
    failIfSet(this.failing, 'startExecution');
    this.started.push({ stateMachineArn, name, input });
  }

  async redrive(executionArn: string): Promise<void> {
    failIfSet(this.failing, 'redrive');
    this.redriven.push(executionArn);
  }

  async stop(executionArn: string, error: string, cause: string): Promise<void> {
    failIfSet(this.failing, 'stop');
    this.stopped.push({ executionArn, error, cause });
  }

  async describe(executionArn: string): Promise<ExecutionDescription | undefined> {
    failIfSet(this.failing, 'describe');
    this.described.push(executionArn);
    const execution = this.executions.get(executionArn);
    if (execution instanceof Error) throw execution;
    return execution;
  }

  async completeStep(taskToken: string, outcome: StepOutcome): Promise<StepCompletion> {
    failIfSet(this.failing, 'completeStep');
    const ended = this.endedSteps.get(taskToken);
    if (ended) return { completed: false, alreadyEnded: ended };
    this.completed.push({ taskToken, outcome });
    return { completed: true };
  }
}

/** In-memory host commands: sent commands get ids cmd-1, cmd-2, …; invocations answer from `invocations`. */
export class FakeHostCommands implements HostCommands {
  readonly sent: HostCommand[] = [];
  readonly cancelled: string[] = [];
  readonly waitedFor: string[] = [];
  /** What invocation answers, by command id; a command not here has no invocation. */
  readonly invocations = new Map<string, CommandInvocation>();
  /** Ping statuses by instance; Online for any other. */
  readonly pings = new Map<string, InstancePing>();
  /** Every list of instances whose pings were asked at once. */
  readonly pingsAsked: string[][] = [];
  readonly failing: Failures<HostCommands> = {};

  async send(command: HostCommand): Promise<string | undefined> {
    failIfSet(this.failing, 'send');
    this.sent.push(command);
    return `cmd-${this.sent.length}`;
  }

  async cancel(commandId: string): Promise<void> {
    failIfSet(this.failing, 'cancel');
    this.cancelled.push(commandId);
  }

  async invocation(commandId: string, instanceId: string): Promise<CommandInvocation | undefined> {
    failIfSet(this.failing, 'invocation');
    const found = this.invocations.get(commandId);
    return found?.instanceId === instanceId ? found : undefined;
  }

  async waitForEnd(commandId: string): Promise<void> {
    failIfSet(this.failing, 'waitForEnd');
    this.waitedFor.push(commandId);
  }

  async instancePing(instanceId: string): Promise<InstancePing> {
    failIfSet(this.failing, 'instancePing');
    return this.pings.get(instanceId) ?? 'Online';
  }

  async instancePings(instanceIds: readonly string[]): Promise<Map<string, InstancePing>> {
    failIfSet(this.failing, 'instancePings');
    this.pingsAsked.push([...instanceIds]);
    return new Map(instanceIds.map((id) => [id, this.pings.get(id) ?? 'Online']));
  }
}

/** An in-memory event bus that accepts every event. */
export class FakeEventBus implements EventBus {
  readonly events: BusEvent[] = [];
  readonly failing: Failures<EventBus> = {};

  async put(events: readonly BusEvent[]): Promise<{ failedCount: number }> {
    failIfSet(this.failing, 'put');
    this.events.push(...events);
    return { failedCount: 0 };
  }
}

/** In-memory queues. */
export class FakeQueues implements MessageQueues {
  readonly messages: { queueUrl: string; body: string }[] = [];
  readonly failing: Failures<MessageQueues> = {};

  async send(queueUrl: string, body: string): Promise<void> {
    failIfSet(this.failing, 'send');
    this.messages.push({ queueUrl, body });
  }
}

/** A CommandInvocation as GetCommandInvocation would report it, for a fake's `invocations`. */
export function invocationOf(
  commandId: string,
  instanceId: string,
  fields: Partial<CommandInvocation> = {},
): CommandInvocation {
  return { commandId, instanceId, status: 'Success', exitCode: 0, stdout: '', stderr: '', ...fields };
}
