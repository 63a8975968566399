import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import type { EventBridgeEvent } from 'aws-lambda';
import { z } from 'zod';
import { AllowedPatternSyntaxError, matchesAllowedPattern } from '#core/allowed-pattern';
import { COMMAND_STATUS_EVENT, type CommandStatusDetail } from '#core/event-patterns';
import { AwsError, type LocalService } from '#local/local-service';
import { StreamedChannel, type StreamedInvocation } from '#local/services/cloudwatch-logs';
import { ScriptRunner } from '#local/services/script-runner';

/** SSM's "EC2 Command Invocation Status-change Notification" event, as EventBridge delivers it. */
export type CommandStatusEvent = EventBridgeEvent<
  typeof COMMAND_STATUS_EVENT.detailType,
  CommandStatusDetail
>;

/** A demo host as SSM sees it: where its commands run, and whether its agent is connected. */
export interface LocalInstance {
  workDir: string;
  online: boolean;
  /**
   * Whether the instance's role lets the SSM Agent write to CloudWatch Logs (the stack's
   * CommandOutputPolicyArn policy). Without it the agent streams no command output, silently.
   * @default true
   */
  streamsOutput?: boolean;
}

export interface LocalSsmOptions<Document extends object = object> {
  /** SSM Command documents (schema 2.2, one aws:runShellScript step) by document name. */
  documents: Record<string, Document>;
  /**
   * The document's shell text for the parameter values SendCommand accepted (defaults applied), as
   * the agent renders it on the host; what it throws is the agent refusing the document.
   */
  renderRunCommand: (content: Document, parameters: Record<string, string>) => string;
  /** The registered managed instance, read again at every delivery attempt. */
  instances: (instanceId: string) => LocalInstance | undefined;
  /** Receives each invocation status-change event (InProgress, then the terminal status). */
  emit: (event: CommandStatusEvent) => void | Promise<void>;
  region?: string;
  accountId?: string;
  /**
   * How long an undelivered command waits for its instance, from the seconds AWS gives it (SendCommand's
   * TimeoutSeconds plus the step's execution timeout); tests shorten it.
   */
  deliveryTimeoutMs?: (timeoutSeconds: number) => number;
}

type InvocationStatus =
  | 'Pending'
  | 'InProgress'
  | 'Cancelling'
  | 'Success'
  | 'Failed'
  | 'TimedOut'
  | 'Cancelled';

/** Limits SSM applies to the output returned inline (the agent keeps the rest). */
export const SSM_OUTPUT_LIMITS = { stdout: 24_000, stderr: 8_000, pluginOutput: 2_500 } as const;
/** Exit code the SSM agent reports for a command it stopped (timeout or cancel): 128 + SIGKILL. */
export const STOPPED_EXIT_CODE = 137;

const TERMINAL: ReadonlySet<InvocationStatus> = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
const DEFAULT_EXECUTION_TIMEOUT_SECONDS = 3600;
const DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3600;
const DELIVERY_POLL_MS = 200;
const LOCAL_AGENT_VERSION = '3.3.0.0';
const COMMAND_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const ParameterDefinition = z
  .object({
    type: z.string().optional(),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    allowedPattern: z.string().optional(),
    allowedValues: z.array(z.string()).optional(),
    minChars: z.coerce.number().int().min(0).optional(),
    maxChars: z.coerce.number().int().min(0).optional(),
  })
  .loose();

const CommandDocument = z
  .object({
    schemaVersion: z.literal('2.2'),
    parameters: z.record(z.string(), ParameterDefinition).optional(),
    mainSteps: z
      .array(
        z
          .object({
            action: z.literal('aws:runShellScript'),
            name: z.string().min(1),
            inputs: z
              .object({
                runCommand: z.array(z.string()),
                timeoutSeconds: z.union([z.number(), z.string()]).optional(),
              })
              .loose(),
          })
          .loose(),
      )
      .length(1),
  })
  .loose();

type ParsedDocument = z.infer<typeof CommandDocument>;

const SendCommandInput = z
  .object({
    DocumentName: z.string().min(1),
    InstanceIds: z.array(z.string().min(1)).min(1).max(50).optional(),
    Targets: z.array(z.unknown()).optional(),
    Parameters: z.record(z.string(), z.array(z.string())).optional(),
    Comment: z.string().optional(),
    TimeoutSeconds: z.number().int().optional(),
    CloudWatchOutputConfig: z
      .object({
        CloudWatchLogGroupName: z.string().min(1).max(512).optional(),
        CloudWatchOutputEnabled: z.boolean().optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

const GetCommandInvocationInput = z
  .object({ CommandId: z.string().min(1), InstanceId: z.string().min(1), PluginName: z.string().optional() })
  .loose();

const ListInput = z
  .object({
    CommandId: z.string().optional(),
    InstanceId: z.string().optional(),
    MaxResults: z.number().int().min(1).max(50).optional(),
    NextToken: z.string().optional(),
    Details: z.boolean().optional(),
  })
  .loose();

/** DescribeInstanceInformation, by the Filters the product uses (InstanceIds, PingStatus). */
const DescribeInstanceInformationInput = z
  .object({
    Filters: z
      .array(z.object({ Key: z.string().min(1), Values: z.array(z.string().min(1)).min(1).max(100) }))
      .optional(),
    InstanceInformationFilterList: z.array(z.unknown()).optional(),
    MaxResults: z.number().int().min(5).max(50).optional(),
    NextToken: z.string().optional(),
  })
  .loose();

const CancelCommandInput = z
  .object({ CommandId: z.string().min(1), InstanceIds: z.array(z.string()).optional() })
  .loose();

interface CommandRecord {
  commandId: string;
  documentName: string;
  stepName: string;
  comment: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  requestedAt: number;
  deliveryTimeoutSeconds: number;
  executionTimeoutSeconds: number;
  /** The shell text, or why the agent refuses the document (every invocation then fails unrun). */
  rendered: { script: string } | { agentRefusal: string };
  cloudWatchOutput: { CloudWatchLogGroupName: string; CloudWatchOutputEnabled: boolean };
  invocations: Map<string, Invocation>;
}

interface Invocation {
  command: CommandRecord;
  instanceId: string;
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  stdout: string;
  stderr: string;
  /** The agent's document-level message (ListCommandInvocations' TraceOutput). */
  traceOutput: string;
  /** What the agent streams to CloudWatch Logs as the script runs, if it does. */
  streamed?: StreamedInvocation;
  startedAt?: number;
  endedAt?: number;
  /** SIGKILLs the running script's process group and ends the run (see ScriptRunner). */
  stop?: () => void;
  stopReason?: 'timeout' | 'cancel' | 'close';
  timers: NodeJS.Timeout[];
  exited?: Promise<void>;
}

/**
 * SSM Run Command for demo hosts: runs a document's shell script with bash in the instance's folder,
 * in its own process group, and reports statuses, output and status-change events the way SSM does.
 */
export class LocalSsm<Document extends object = object> implements LocalService {
  private readonly documents = new Map<string, { content: Document; parsed: ParsedDocument }>();
  private readonly commands = new Map<string, CommandRecord>();
  private readonly region: string;
  private readonly accountId: string;
  private readonly deliveryTimeoutMs: (timeoutSeconds: number) => number;
  private dropEvents: ((event: CommandStatusEvent) => boolean) | undefined;
  /** When each instance was last seen online: an offline one reports it as LastPingDateTime. */
  private readonly lastPing = new Map<string, number>();
  private readonly startedAt = Date.now();
  private closed = false;
  private readonly scripts = new ScriptRunner();

  constructor(private readonly options: LocalSsmOptions<Document>) {
    for (const [name, content] of Object.entries(options.documents)) {
      const parsed = CommandDocument.safeParse(content);
      if (!parsed.success) {
        throw new Error(`Document ${name} is not a schema 2.2 document with one aws:runShellScript step`, {
          cause: parsed.error,
        });
      }
      this.documents.set(name, { content, parsed: parsed.data });
    }
    this.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? ((seconds) => seconds * 1000);
  }

  async handle(operation: string, input: unknown): Promise<unknown> {
    if (this.closed) throw new AwsError('InternalServerError', 'The local SSM service is closed.', 500);
    switch (operation) {
      case 'SendCommand':
        return this.sendCommand(parse(SendCommandInput, input));
      case 'GetCommandInvocation':
        return this.getCommandInvocation(parse(GetCommandInvocationInput, input));
      case 'ListCommandInvocations':
        return this.listCommandInvocations(parse(ListInput, input));
      case 'ListCommands':
        return this.listCommands(parse(ListInput, input));
      case 'CancelCommand':
        return this.cancelCommand(parse(CancelCommandInput, input));
      case 'DescribeInstanceInformation':
        return this.describeInstanceInformation(parse(DescribeInstanceInformationInput, input));
      default:
        throw new AwsError(
          'UnknownOperationException',
          `The local SSM service does not support ${operation}.`,
        );
    }
  }

  /** Fault hook: status-change events matching the predicate are not emitted (a lost event). */
  setDropEvents(predicate: ((event: CommandStatusEvent) => boolean) | undefined): void {
    this.dropEvents = predicate;
  }

  /**
   * What the agent has streamed to CloudWatch Logs for an invocation so far: its log group, its
   * step, each channel's events (all of its output, beyond what the API returns). Nothing when the
   * command did not ask for CloudWatch output or the instance's role may not write it.
   */
  streamedOutput(commandId: string, instanceId: string): StreamedInvocation | undefined {
    return this.commands.get(commandId)?.invocations.get(instanceId)?.streamed;
  }

  /** Stops every running command (SIGKILL to its process group) and waits for each run to end. */
  async close(): Promise<void> {
    this.closed = true;
    const exits: Promise<void>[] = [];
    for (const command of this.commands.values()) {
      for (const invocation of command.invocations.values()) {
        if (TERMINAL.has(invocation.status)) continue;
        for (const timer of invocation.timers) clearTimeout(timer);
        invocation.timers = [];
        if (invocation.exited) {
          invocation.stopReason = 'close';
          invocation.stop?.();
          exits.push(invocation.exited);
        } else {
          invocation.status = 'Cancelled';
          invocation.statusDetails = 'Cancelled';
        }
      }
    }
    await Promise.all(exits);
    await this.scripts.close();
  }

  private sendCommand(input: z.infer<typeof SendCommandInput>) {
    const document = this.documents.get(input.DocumentName);
    if (!document) throw new AwsError('InvalidDocument', `Document ${input.DocumentName} does not exist.`);
    if (!input.InstanceIds) {
      throw new AwsError(
        'ValidationException',
        'The local SSM service targets commands by InstanceIds only.',
      );
    }
    const comment = input.Comment ?? '';
    if (comment.length > 100) {
      throw validationError('comment', 'Member must have length less than or equal to 100');
    }
    const deliveryTimeoutSeconds = input.TimeoutSeconds ?? DEFAULT_DELIVERY_TIMEOUT_SECONDS;
    if (deliveryTimeoutSeconds < 30 || deliveryTimeoutSeconds > 2_592_000) {
      throw validationError('timeoutSeconds', 'Member must have value between 30 and 2592000');
    }
    const unknown = input.InstanceIds.filter((id) => !this.options.instances(id));
    if (unknown.length > 0) {
      throw new AwsError('InvalidInstanceId', `Instances [${unknown.join(', ')}] not in a valid state.`);
    }
    const values = resolveParameters(document.parsed, input.Parameters ?? {});
    let rendered: CommandRecord['rendered'];
    try {
      rendered = { script: this.options.renderRunCommand(document.content, values) };
    } catch (error) {
      rendered = { agentRefusal: error instanceof Error ? error.message : String(error) };
    }
    const step = document.parsed.mainSteps[0]!;
    const command: CommandRecord = {
      commandId: randomUUID(),
      documentName: input.DocumentName,
      stepName: step.name,
      comment,
      parameters: input.Parameters ?? {},
      instanceIds: [...new Set(input.InstanceIds)],
      requestedAt: Date.now(),
      deliveryTimeoutSeconds,
      executionTimeoutSeconds: executionTimeout(step.inputs.timeoutSeconds, values),
      rendered,
      cloudWatchOutput: {
        CloudWatchLogGroupName: input.CloudWatchOutputConfig?.CloudWatchLogGroupName ?? '',
        CloudWatchOutputEnabled: input.CloudWatchOutputConfig?.CloudWatchOutputEnabled ?? false,
      },
      invocations: new Map(),
    };
    for (const instanceId of command.instanceIds) {
      const invocation: Invocation = {
        command,
        instanceId,
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        stdout: '',
        stderr: '',
        traceOutput: '',
        timers: [],
      };
      command.invocations.set(instanceId, invocation);
      setImmediate(() => this.deliver(invocation));
    }
    this.commands.set(command.commandId, command);
    return { Command: this.commandView(command) };
  }

  private getCommandInvocation(input: z.infer<typeof GetCommandInvocationInput>) {
    const command = this.commands.get(input.CommandId);
    const invocation = command?.invocations.get(input.InstanceId);
    if (!command || !invocation || (input.PluginName && input.PluginName !== command.stepName)) {
      throw new AwsError(
        'InvocationDoesNotExist',
        'The command ID and instance ID you specified did not match any invocations.',
      );
    }
    return {
      CommandId: command.commandId,
      InstanceId: invocation.instanceId,
      Comment: command.comment,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      PluginName: command.stepName,
      ResponseCode: invocation.responseCode,
      ExecutionStartDateTime: invocation.startedAt ? new Date(invocation.startedAt).toISOString() : '',
      ExecutionElapsedTime: invocation.startedAt
        ? isoDuration((invocation.endedAt ?? Date.now()) - invocation.startedAt)
        : '',
      ExecutionEndDateTime: invocation.endedAt ? new Date(invocation.endedAt).toISOString() : '',
      Status: invocation.status,
      StatusDetails: invocation.statusDetails,
      StandardOutputContent: truncate(invocation.stdout, SSM_OUTPUT_LIMITS.stdout),
      StandardOutputUrl: '',
      StandardErrorContent: truncate(invocation.stderr, SSM_OUTPUT_LIMITS.stderr),
      StandardErrorUrl: '',
      CloudWatchOutputConfig: command.cloudWatchOutput,
    };
  }

  private listCommandInvocations(input: z.infer<typeof ListInput>) {
    const invocations = this.selectCommands(input.CommandId).flatMap((command) =>
      [...command.invocations.values()].filter(
        (invocation) => !input.InstanceId || invocation.instanceId === input.InstanceId,
      ),
    );
    const page = paginate(invocations, input.MaxResults, input.NextToken);
    return {
      CommandInvocations: page.items.map((invocation) => this.invocationView(invocation, input.Details)),
      ...(page.nextToken ? { NextToken: page.nextToken } : {}),
    };
  }

  private listCommands(input: z.infer<typeof ListInput>) {
    const commands = this.selectCommands(input.CommandId).filter(
      (command) => !input.InstanceId || command.invocations.has(input.InstanceId),
    );
    const page = paginate(commands, input.MaxResults, input.NextToken);
    return {
      Commands: page.items.map((command) => this.commandView(command)),
      ...(page.nextToken ? { NextToken: page.nextToken } : {}),
    };
  }

  private cancelCommand(input: z.infer<typeof CancelCommandInput>) {
    const command = this.commands.get(input.CommandId);
    if (!command) throw new AwsError('InvalidCommandId', `Command ${input.CommandId} does not exist.`);
    const targets = input.InstanceIds?.length ? input.InstanceIds : command.instanceIds;
    for (const instanceId of targets) {
      const invocation = command.invocations.get(instanceId);
      if (!invocation || TERMINAL.has(invocation.status) || invocation.status === 'Cancelling') continue;
      if (invocation.exited) {
        invocation.stopReason = 'cancel';
        invocation.status = 'Cancelling';
        invocation.statusDetails = 'Cancelling';
        invocation.stop?.();
      } else {
        this.finish(invocation, 'Cancelled', 'Cancelled', -1);
      }
    }
    return {};
  }

  /** Each requested instance with its PingStatus: Online while connected, ConnectionLost while offline. */
  private describeInstanceInformation(input: z.infer<typeof DescribeInstanceInformationInput>) {
    if (input.InstanceInformationFilterList) {
      throw new AwsError(
        'ValidationException',
        'The local SSM service supports Filters only (InstanceInformationFilterList is deprecated).',
      );
    }
    const filters = new Map((input.Filters ?? []).map((filter) => [filter.Key, filter.Values]));
    const unsupported = [...filters.keys()].filter((key) => key !== 'InstanceIds' && key !== 'PingStatus');
    if (unsupported.length > 0) {
      throw new AwsError(
        'InvalidFilterKey',
        `The local SSM service does not filter on ${unsupported.join(', ')}.`,
      );
    }
    const instanceIds = filters.get('InstanceIds');
    if (!instanceIds) {
      throw new AwsError('ValidationException', 'The local SSM service lists instances by InstanceIds only.');
    }
    const unknown = instanceIds.filter((id) => !this.options.instances(id));
    if (unknown.length > 0) {
      throw new AwsError('InvalidInstanceId', `Instances [${unknown.join(', ')}] are not managed instances.`);
    }
    const listed = [...new Set(instanceIds)].map((instanceId) => {
      const online = this.isOnline(instanceId);
      return {
        InstanceId: instanceId,
        PingStatus: online ? 'Online' : 'ConnectionLost',
        LastPingDateTime: epochSeconds(this.lastPing.get(instanceId) ?? this.startedAt),
        AgentVersion: LOCAL_AGENT_VERSION,
        IsLatestVersion: true,
        PlatformType: 'Linux',
        PlatformName: 'Local demo host',
        ResourceType: 'ManagedInstance',
      };
    });
    const pingFilter = filters.get('PingStatus');
    const matching = pingFilter
      ? listed.filter((instance) => pingFilter.includes(instance.PingStatus))
      : listed;
    const page = paginate(matching, input.MaxResults, input.NextToken);
    return {
      InstanceInformationList: page.items,
      ...(page.nextToken ? { NextToken: page.nextToken } : {}),
    };
  }

  /** Whether the instance's agent is connected now; records when it last was. */
  private isOnline(instanceId: string): boolean {
    const online = this.options.instances(instanceId)?.online ?? false;
    if (online) this.lastPing.set(instanceId, Date.now());
    return online;
  }

  private selectCommands(commandId: string | undefined): CommandRecord[] {
    if (commandId === undefined) return [...this.commands.values()].reverse();
    if (!COMMAND_ID.test(commandId))
      throw new AwsError('InvalidCommandId', `${commandId} is not a command ID.`);
    const command = this.commands.get(commandId);
    return command ? [command] : [];
  }

  /** Delivers the command if its instance is online, otherwise keeps it pending until delivery times out. */
  private deliver(invocation: Invocation): void {
    if (this.closed || invocation.status !== 'Pending') return;
    if (this.isOnline(invocation.instanceId)) {
      this.run(invocation);
      return;
    }
    const deadline =
      invocation.command.requestedAt + this.deliveryTimeoutMs(expirySeconds(invocation.command));
    const poll = () => {
      if (this.closed || invocation.status !== 'Pending') return;
      if (Date.now() >= deadline) {
        this.finish(invocation, 'TimedOut', 'DeliveryTimedOut', -1);
      } else if (this.isOnline(invocation.instanceId)) {
        this.run(invocation);
      } else {
        invocation.timers.push(setTimeout(poll, Math.min(DELIVERY_POLL_MS, deadline - Date.now())));
      }
    };
    poll();
  }

  private run(invocation: Invocation): void {
    const { command } = invocation;
    if ('agentRefusal' in command.rendered) {
      // The agent parses the document before running anything and reports only the failure.
      invocation.traceOutput = command.rendered.agentRefusal;
      this.finish(invocation, 'Failed', 'Failed', -1);
      return;
    }
    const { script } = command.rendered;
    const instance = this.options.instances(invocation.instanceId)!;
    invocation.status = 'InProgress';
    invocation.statusDetails = 'InProgress';
    invocation.startedAt = Date.now();
    const { CloudWatchLogGroupName, CloudWatchOutputEnabled } = command.cloudWatchOutput;
    if (CloudWatchOutputEnabled && instance.streamsOutput !== false) {
      invocation.streamed = {
        // SSM's own default when the command names no group.
        logGroupName: CloudWatchLogGroupName || `/aws/ssm/${command.documentName}`,
        stepName: command.stepName,
        stdout: new StreamedChannel(),
        stderr: new StreamedChannel(),
      };
    }
    const streamed = invocation.streamed;
    this.emitStatus(invocation);

    // The script runs from a worker thread (spawning blocks the spawning thread until the child execs).
    // Like the agent, the run ends once the script has exited and its stdout and stderr have closed,
    // or when the execution timeout or a cancel SIGKILLs its process group.
    const running = this.scripts.run(
      {
        script,
        cwd: instance.workDir,
        env: {
          PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
          HOME: instance.workDir,
          LANG: process.env.LANG ?? 'C.UTF-8',
        },
      },
      streamed && ((channel, chunk) => streamed[channel].write(chunk)),
    );
    invocation.stop = running.stop;
    invocation.exited = running.exited.then((exit) => {
      invocation.stdout = exit.stdout;
      invocation.stderr = exit.stderr + (exit.error ? `${exit.error}\n` : '');
      streamed?.stdout.end();
      streamed?.stderr.end(exit.error);
      this.completeRun(invocation, exit.code, exit.signal);
    });
    invocation.timers.push(
      setTimeout(() => {
        if (TERMINAL.has(invocation.status)) return;
        invocation.stopReason ??= 'timeout';
        running.stop();
      }, command.executionTimeoutSeconds * 1000),
    );
  }

  private completeRun(invocation: Invocation, code: number | null, signal: NodeJS.Signals | null): void {
    invocation.stop = undefined;
    if (invocation.stopReason === 'close') {
      invocation.status = 'Cancelled';
      invocation.statusDetails = 'Cancelled';
      invocation.endedAt = Date.now();
    } else if (invocation.stopReason === 'timeout') {
      this.finish(invocation, 'TimedOut', 'ExecutionTimedOut', STOPPED_EXIT_CODE);
    } else if (invocation.stopReason === 'cancel') {
      this.finish(invocation, 'Cancelled', 'Cancelled', STOPPED_EXIT_CODE);
    } else {
      this.finishExit(invocation, code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    }
  }

  private finishExit(invocation: Invocation, exitCode: number): void {
    if (exitCode === 0) {
      this.finish(invocation, 'Success', 'Success', 0);
      return;
    }
    // The agent appends this line to a failed script's stderr.
    const separator = invocation.stderr === '' || invocation.stderr.endsWith('\n') ? '' : '\n';
    invocation.stderr += `${separator}failed to run commands: exit status ${exitCode}`;
    invocation.streamed?.stderr.addLine(`failed to run commands: exit status ${exitCode}`);
    this.finish(invocation, 'Failed', 'Failed', exitCode);
  }

  private finish(
    invocation: Invocation,
    status: InvocationStatus,
    details: string,
    responseCode: number,
  ): void {
    for (const timer of invocation.timers) clearTimeout(timer);
    invocation.timers = [];
    invocation.status = status;
    invocation.statusDetails = details;
    invocation.responseCode = responseCode;
    if (invocation.startedAt !== undefined) invocation.endedAt = Date.now();
    if (!this.closed) this.emitStatus(invocation);
  }

  private emitStatus(invocation: Invocation): void {
    const { command } = invocation;
    const event: CommandStatusEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': COMMAND_STATUS_EVENT.detailType,
      source: COMMAND_STATUS_EVENT.source,
      account: this.accountId,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources: [`arn:aws:ec2:${this.region}:${this.accountId}:instance/${invocation.instanceId}`],
      detail: {
        'command-id': command.commandId,
        'document-name': command.documentName,
        'instance-id': invocation.instanceId,
        'requested-date-time': new Date(command.requestedAt).toISOString(),
        status: invocation.status,
      },
    };
    if (this.dropEvents?.(event)) return;
    try {
      void Promise.resolve(this.options.emit(event)).catch(() => undefined);
    } catch {
      // A failing subscriber must not break the command, as on AWS.
    }
  }

  private commandView(command: CommandRecord) {
    const invocations = [...command.invocations.values()];
    const finished = invocations.filter((invocation) => TERMINAL.has(invocation.status));
    const errors = finished.filter(
      (invocation) =>
        invocation.status === 'Failed' ||
        (invocation.status === 'TimedOut' && invocation.statusDetails === 'ExecutionTimedOut'),
    );
    const deliveryTimedOut = finished.filter((invocation) => invocation.statusDetails === 'DeliveryTimedOut');
    const status = aggregateStatus(invocations);
    return {
      CommandId: command.commandId,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      Comment: command.comment,
      ExpiresAfter: epochSeconds(command.requestedAt + expirySeconds(command) * 1000),
      Parameters: command.parameters,
      InstanceIds: command.instanceIds,
      Targets: [],
      RequestedDateTime: epochSeconds(command.requestedAt),
      Status: status,
      StatusDetails: status,
      OutputS3Region: this.region,
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
      MaxConcurrency: '50',
      MaxErrors: '0',
      TargetCount: invocations.length,
      CompletedCount: finished.length,
      ErrorCount: errors.length,
      DeliveryTimedOutCount: deliveryTimedOut.length,
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: command.cloudWatchOutput,
      TimeoutSeconds: command.deliveryTimeoutSeconds,
    };
  }

  private invocationView(invocation: Invocation, details: boolean | undefined) {
    const { command } = invocation;
    const output =
      invocation.stdout + (invocation.stderr ? `\n----------ERROR-------\n${invocation.stderr}` : '');
    return {
      CommandId: command.commandId,
      InstanceId: invocation.instanceId,
      InstanceName: '',
      Comment: command.comment,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      RequestedDateTime: epochSeconds(command.requestedAt),
      Status: invocation.status,
      StatusDetails: invocation.statusDetails,
      TraceOutput: invocation.traceOutput,
      StandardOutputUrl: '',
      StandardErrorUrl: '',
      CommandPlugins: details
        ? [
            {
              Name: command.stepName,
              Status: invocation.status === 'Cancelling' ? 'InProgress' : invocation.status,
              StatusDetails: invocation.statusDetails,
              ResponseCode: invocation.responseCode,
              ...(invocation.startedAt ? { ResponseStartDateTime: epochSeconds(invocation.startedAt) } : {}),
              ...(invocation.endedAt ? { ResponseFinishDateTime: epochSeconds(invocation.endedAt) } : {}),
              Output: truncate(output, SSM_OUTPUT_LIMITS.pluginOutput),
              StandardOutputUrl: '',
              StandardErrorUrl: '',
              OutputS3Region: this.region,
              OutputS3BucketName: '',
              OutputS3KeyPrefix: '',
            },
          ]
        : [],
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: command.cloudWatchOutput,
    };
  }
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw validationError(issue?.path.join('.') || 'input', issue?.message ?? 'invalid value');
}

function validationError(field: string, constraint: string): AwsError {
  return new AwsError(
    'ValidationException',
    `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

/** Applies defaults and checks each value against the document's parameter definitions, as SendCommand does. */
function resolveParameters(
  document: ParsedDocument,
  supplied: Record<string, string[]>,
): Record<string, string> {
  const definitions = document.parameters ?? {};
  const unknown = Object.keys(supplied).filter((name) => !(name in definitions));
  if (unknown.length > 0) {
    throw new AwsError(
      'InvalidParameters',
      `Parameters [${unknown.join(', ')}] are not defined in the document.`,
    );
  }
  const values: Record<string, string> = {};
  for (const [name, definition] of Object.entries(definitions)) {
    const given = supplied[name];
    if (given && given.length > 1 && definition.type !== 'StringList') {
      throw new AwsError('InvalidParameters', `Parameter ${name} takes one value.`);
    }
    const value = given
      ? given.join(',')
      : definition.default === undefined
        ? undefined
        : String(definition.default);
    if (value === undefined) {
      throw new AwsError('InvalidParameters', `Parameter ${name} is required by the document.`);
    }
    if (definition.allowedPattern !== undefined && !serviceAccepts(definition.allowedPattern, value)) {
      throw new AwsError('InvalidParameters', `Parameter ${name} does not match its allowed pattern.`);
    }
    if (
      (definition.minChars !== undefined && value.length < definition.minChars) ||
      (definition.maxChars !== undefined && value.length > definition.maxChars)
    ) {
      throw new AwsError('InvalidParameters', `Parameter ${name} has a length out of its allowed range.`);
    }
    if (definition.allowedValues && !definition.allowedValues.includes(value)) {
      throw new AwsError('InvalidParameters', `Parameter ${name} is not one of its allowed values.`);
    }
    values[name] = value;
  }
  return values;
}

/**
 * SendCommand's own allowedPattern check (SSM's engine is Java's). RE2 stands in for it, which is
 * exact for patterns that mean the same in both (the product's are tested to). A pattern RE2 cannot
 * compile is left to the agent, which fails the command on the host.
 */
function serviceAccepts(pattern: string, value: string): boolean {
  try {
    return matchesAllowedPattern(pattern, value);
  } catch (error) {
    if (error instanceof AllowedPatternSyntaxError) return true;
    throw error;
  }
}

/** The step's execution timeout: a number, a numeric string, or a `{{ parameter }}` reference. */
/**
 * When a command that no instance took expires (DeliveryTimedOut): AWS's user guide ("Understanding
 * command statuses", Pending) gives the sum of the delivery timeout and the execution timeout, and the
 * API reference says ExpiresAfter "is calculated based on the total timeout for the overall command".
 */
function expirySeconds(command: { deliveryTimeoutSeconds: number; executionTimeoutSeconds: number }): number {
  return command.deliveryTimeoutSeconds + command.executionTimeoutSeconds;
}

function executionTimeout(value: number | string | undefined, parameters: Record<string, string>): number {
  if (value === undefined) return DEFAULT_EXECUTION_TIMEOUT_SECONDS;
  const reference = typeof value === 'string' ? /^\{\{\s*(\w+)\s*\}\}$/.exec(value.trim()) : null;
  const resolved = Number(reference ? parameters[reference[1]!] : value);
  return Number.isFinite(resolved) && resolved > 0 ? resolved : DEFAULT_EXECUTION_TIMEOUT_SECONDS;
}

function aggregateStatus(invocations: Invocation[]): string {
  if (invocations.every((invocation) => invocation.status === 'Pending')) return 'Pending';
  if (invocations.some((invocation) => !TERMINAL.has(invocation.status))) return 'InProgress';
  if (invocations.every((invocation) => invocation.status === 'Success')) return 'Success';
  if (invocations.some((invocation) => invocation.status === 'Cancelled')) return 'Cancelled';
  if (invocations.some((invocation) => invocation.status === 'Failed')) return 'Failed';
  return 'TimedOut';
}

function paginate<T>(items: T[], maxResults: number | undefined, nextToken: string | undefined) {
  const start = nextToken === undefined ? 0 : Number(nextToken);
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw new AwsError('InvalidNextToken', 'The specified token is not valid.');
  }
  const end = maxResults === undefined ? items.length : start + maxResults;
  return { items: items.slice(start, end), nextToken: end < items.length ? String(end) : undefined };
}

function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const cut = text.slice(0, limit);
  // Do not leave half of a surrogate pair at the end.
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** The JSON protocol's timestamp: epoch seconds. */
function epochSeconds(ms: number): number {
  return ms / 1000;
}

/** ISO 8601 duration, as SSM reports ExecutionElapsedTime (e.g. PT1.234S, PT1H0.271S). */
function isoDuration(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `PT${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${seconds}S`;
}
