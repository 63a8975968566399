import { randomUUID } from 'node:crypto';
import type {
  DescribeExecutionOutput,
  ExecutionListItem,
  ExecutionStatus,
  HistoryEvent,
  HistoryEventType,
} from '@aws-sdk/client-sfn';
import { type RunOptions, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { z } from 'zod';
import { isWithinRedriveWindow } from '#core/redrive-window';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';
import { deferred, type Resolvers } from '#local/promise-with-resolvers';
import { DistributedMapState, type MapRunDirectory } from '#local/services/distributed-map';
import { prepareDistributedMaps } from '#local/services/distributed-map-definition';
import type { ExecutionStore, StoredExecution } from '#local/services/execution-store';
import { startExecution } from '#local/services/nested-executions';
import { executionOfToken, LocalStateMachines } from '#local/services/state-machines';
import {
  type EventBody,
  type JsonValue,
  type LambdaFunction,
  parseTaskResource,
  StateError,
  StatesRuntimeError,
  type TaskContext,
  TaskIntegrations,
  type TaskResource,
} from '#local/services/step-functions-tasks';

export type { LambdaFunction } from '#local/services/step-functions-tasks';

/** The detail of a "Step Functions Execution Status Change" event (dates in epoch milliseconds). */
export interface ExecutionStatusChangeDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate: number | null;
  input: string;
  inputDetails: { included: boolean };
  output: string | null;
  outputDetails: { included: boolean } | null;
  error: string | null;
  cause: string | null;
  redriveCount: number;
  redriveDate: number | null;
  redriveStatus: 'REDRIVABLE' | 'NOT_REDRIVABLE';
  redriveStatusReason: string | null;
}

export interface LocalStepFunctionsOptions {
  /** `arn:aws:states:<region>:<account>:stateMachine:<name>` */
  stateMachineArn: string;
  /** The ASL definition with its `${Placeholders}` already substituted. */
  definition: object;
  /** Functions by name or ARN, as Task states name them after substitution. */
  lambdaFunctions: Record<string, LambdaFunction>;
  onExecutionStatusChange?: (detail: ExecutionStatusChangeDetail) => void;
  roleArn?: string;
  /** Closed executions kept for Describe/History/List; the oldest are forgotten first (default 10 000). */
  maxClosedExecutions?: number;
  /** Keeps executions across restarts: loaded when the service is built, written on every change. */
  store?: ExecutionStore;
  /** Test speed-ups, passed to aws-local-stepfunctions (milliseconds, by state name). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  waitTimeOverrides?: Record<string, number>;
  /** The current time; tests move it on to see an execution's 14-day redrive window close. */
  clock?: () => Date;
  /**
   * The Step Functions service this machine is one of: other machines' executions are started and
   * described through it (`states:startExecution`), and every machine answers for all of them.
   * A service of its own when absent.
   */
  stateMachines?: LocalStateMachines;
  /** Set for the child machine of a Distributed Map state (by that state): the Map Runs it runs. */
  mapRuns?: MapRunDirectory;
}

type RunHandle = ReturnType<StateMachine['run']>;
type LibraryEvent = RunHandle['eventLogs'] extends AsyncGenerator<infer Event> ? Event : never;
type TaskStateDefinition = { Resource: string; TimeoutSeconds?: number; HeartbeatSeconds?: number };

/** An execution as kept (see StoredExecution), with its run in progress, if any. */
interface Execution extends StoredExecution {
  run?: Run;
}

/** One run of the machine for an execution: the first, or one per redrive. */
interface Run {
  handle?: RunHandle;
  ended: boolean;
  /** Task attempts not yet paired with their state-entered/retried event, by state name. */
  unpaired: Map<string, Attempt[]>;
  /** The attempt whose events currently go straight to the history, by state name. */
  live: Map<string, Attempt>;
  open: Set<Attempt>;
  consumed?: Promise<void>;
  /** A redrive's run: the state it resumes at, until that state's first attempt (a Map Run redrives). */
  resumedAt?: string;
}

/** One call of a Task state (its first try or a retry). */
interface Attempt {
  execution: Execution;
  run: Run;
  stateName: string;
  resource: TaskResource;
  open: boolean;
  pairing: 'pending' | 'live' | 'detached';
  buffered: EventBody[];
  outcome: Deferred<JsonValue>;
  /** Aborted when the attempt closes: what it started (a child execution, a Map Run) must stop. */
  abort: AbortController;
  callback?: Deferred<JsonValue>;
  token?: string;
  timers: NodeJS.Timeout[];
  heartbeat?: { seconds: number; timer?: NodeJS.Timeout };
}

type Deferred<T> = Resolvers<T>;

const DEFAULT_TASK_TIMEOUT_SECONDS = 60;
const MAX_INPUT_BYTES = 256 * 1024;
const STOP_SETTLE_MS = 2_000;
const NAME_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:([^:]+):(\d+|[^:]+):stateMachine:([^:]+)$/;

const StartExecutionInput = z.object({
  stateMachineArn: z.string(),
  name: z.string().optional(),
  input: z.string().optional(),
  traceHeader: z.string().optional(),
});
const ExecutionArnInput = z.object({ executionArn: z.string() });
const StopExecutionInput = ExecutionArnInput.extend({
  error: z.string().max(256).optional(),
  cause: z.string().max(32768).optional(),
});
const HistoryInput = ExecutionArnInput.extend({
  maxResults: z.number().int().min(0).max(1000).optional(),
  nextToken: z.string().optional(),
  reverseOrder: z.boolean().optional(),
  includeExecutionData: z.boolean().optional(),
});
const ListExecutionsInput = z.object({
  stateMachineArn: z.string().optional(),
  mapRunArn: z.string().optional(),
  redriveFilter: z.enum(['REDRIVEN', 'NOT_REDRIVEN']).optional(),
  statusFilter: z
    .enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'])
    .optional(),
  maxResults: z.number().int().min(0).max(1000).optional(),
  nextToken: z.string().optional(),
});
const TaskSuccessInput = z.object({ taskToken: z.string(), output: z.string() });
const TaskFailureInput = z.object({
  taskToken: z.string(),
  error: z.string().max(256).optional(),
  cause: z.string().max(32768).optional(),
});
const TaskTokenInput = z.object({ taskToken: z.string() });
const MapRunArnInput = z.object({ mapRunArn: z.string() });
const ListMapRunsInput = ExecutionArnInput.extend({
  maxResults: z.number().int().min(0).max(1000).optional(),
  nextToken: z.string().optional(),
});

/**
 * A local Step Functions for one state machine: runs the ASL with aws-local-stepfunctions and answers
 * the Step Functions API (start, describe, stop, history, list, task callbacks, redrive). Every Task
 * state runs through one dispatcher chosen by its `Resource`; `.waitForTaskToken` states really wait
 * for SendTaskSuccess/SendTaskFailure with a token minted for that state entry. A Distributed Map state
 * runs as Map Runs (distributed-map.ts) on a child machine of its own, and `states:startExecution`
 * tasks start executions of the other machines of the service (nested-executions.ts).
 */
export class LocalStepFunctions implements LocalService {
  readonly stateMachineArn: string;
  readonly stateMachines: LocalStateMachines;
  private readonly stateMachineName: string;
  private readonly region: string;
  private readonly roleArn: string;
  private readonly definition: StateMachineDefinition;
  private readonly definitionText: string;
  private readonly machine: StateMachine;
  private readonly resumedMachines = new Map<string, StateMachine>();
  private readonly topLevelStates: Set<string>;
  private readonly taskStates: Map<string, { state: TaskStateDefinition; resource: TaskResource }>;
  private readonly integrations: TaskIntegrations;
  private readonly distributedMaps = new Map<string, DistributedMapState>();
  private readonly executions = new Map<string, Execution>();
  /** Callers of whenClosed waiting for an execution to end, by execution ARN. */
  private readonly closeWaiters = new Map<string, (() => void)[]>();
  private readonly waiters = new Map<string, Attempt>();
  private readonly maxClosedExecutions: number;
  private closedExecutions = 0;
  private readonly creationDate = new Date();
  /** Redriven executions waiting in PENDING_REDRIVE for their run to start. */
  private readonly pendingRedrives = new Set<Execution>();
  private redrivesHeld = false;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    const arn = STATE_MACHINE_ARN.exec(options.stateMachineArn);
    if (!arn) throw new Error(`Not a state machine ARN: ${options.stateMachineArn}`);
    this.stateMachineArn = options.stateMachineArn;
    this.region = arn[1]!;
    this.stateMachineName = arn[3]!;
    this.roleArn = options.roleArn ?? `arn:aws:iam::${arn[2]}:role/local-step-functions`;
    // As written (the library's validation adds fields); DescribeStateMachine answers with it.
    this.definitionText = JSON.stringify(options.definition);
    // Validates the definition; the library then runs it with Distributed Maps stood in for.
    new StateMachine(options.definition as StateMachineDefinition);
    const prepared = prepareDistributedMaps(options.definition);
    this.definition = prepared.definition;
    this.machine = new StateMachine(this.definition, { validationOptions: { noValidate: true } });
    this.topLevelStates = new Set(Object.keys(this.definition.States));
    this.taskStates = collectTaskStates(this.definition);
    this.stateMachines = options.stateMachines ?? new LocalStateMachines();
    this.stateMachines.add(this);
    this.integrations = new TaskIntegrations(options.lambdaFunctions, (pattern, parameters, context) =>
      startExecution(this.stateMachines, pattern, parameters, context),
    );
    for (const [stateName, map] of prepared.maps) {
      const state = new DistributedMapState(
        stateName,
        map,
        this.stateMachineArn,
        options.store,
        (arn, definition, mapRuns, store) =>
          new LocalStepFunctions({
            ...options,
            stateMachineArn: arn,
            definition,
            onExecutionStatusChange: undefined,
            store,
            stateMachines: this.stateMachines,
            mapRuns,
          }),
      );
      this.distributedMaps.set(stateName, state);
    }
    this.maxClosedExecutions = options.maxClosedExecutions ?? 10_000;
    const saved = options.store?.load() ?? [];
    const foreign = saved.find((execution) => !this.owns(execution.executionArn));
    if (foreign) {
      throw new Error(
        `The execution store of ${this.stateMachineArn} holds ${foreign.executionArn}: give each state machine a store (folder) of its own`,
      );
    }
    for (const execution of saved) this.executions.set(execution.executionArn, execution);
    this.forgetOldExecutions(saved.length);
  }

  /** Answers for every machine of the service (see {@link LocalStateMachines}). */
  handle(operation: string, input: unknown): Promise<unknown> {
    return this.stateMachines.handle(operation, input);
  }

  /** True when the execution ARN names an execution of this machine. */
  private owns(executionArn: string): boolean {
    const prefix = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:`;
    return executionArn.startsWith(prefix) && !executionArn.slice(prefix.length).includes(':');
  }

  /** True for the child machine of a Distributed Map state (its executions belong to Map Runs). */
  get isMapRunChildMachine(): boolean {
    return this.options.mapRuns !== undefined;
  }

  /** This machine in ListStateMachines. */
  listItem() {
    return {
      stateMachineArn: this.stateMachineArn,
      name: this.stateMachineName,
      type: 'STANDARD',
      creationDate: this.creationDate,
    };
  }

  /** A request the service routed to this machine. */
  async answer(operation: string, input: unknown): Promise<unknown> {
    switch (operation) {
      case 'StartExecution':
        return this.startExecution(parse(StartExecutionInput, input));
      case 'DescribeExecution':
        return this.describeExecution(parse(ExecutionArnInput, input).executionArn);
      case 'StopExecution':
        return this.stopExecution(parse(StopExecutionInput, input));
      case 'GetExecutionHistory':
        return this.getExecutionHistory(parse(HistoryInput, input));
      case 'ListExecutions':
        return this.listExecutions(parse(ListExecutionsInput, input));
      case 'SendTaskSuccess':
        return this.sendTaskSuccess(parse(TaskSuccessInput, input));
      case 'SendTaskFailure':
        return this.sendTaskFailure(parse(TaskFailureInput, input));
      case 'SendTaskHeartbeat':
        return this.sendTaskHeartbeat(parse(TaskTokenInput, input).taskToken);
      case 'RedriveExecution':
        return this.redriveExecution(parse(ExecutionArnInput, input).executionArn);
      case 'DescribeMapRun':
        return this.describeMapRun(parse(MapRunArnInput, input).mapRunArn);
      case 'ListMapRuns':
        return this.listMapRuns(parse(ListMapRunsInput, input));
      case 'DescribeStateMachine':
        return this.describeStateMachine(parse(z.object({ stateMachineArn: z.string() }), input));
      default:
        throw unknownOperation(`AWSStepFunctions.${operation}`);
    }
  }

  /**
   * Local mode is stopping: every execution is saved as it is, and the runs end without recording
   * anything more, as when the process dies (the store fails the open ones when it next loads them).
   */
  shutdown(): void {
    // Children first: what their parents' ends would stop must stay as the process left it.
    for (const map of this.distributedMaps.values()) map.shutdown();
    this.options.store?.close();
    for (const execution of this.executions.values()) {
      if (!execution.run || execution.run.ended) continue;
      execution.run.handle?.abort();
      this.endRun(execution.run);
    }
  }

  /** Stops every running execution (test clean-up). */
  async stopAll(): Promise<void> {
    for (const execution of this.pendingRedrives) {
      execution.status = 'ABORTED';
      execution.stopDate = this.now();
    }
    this.pendingRedrives.clear();
    const running = [...this.executions.values()].filter((execution) => execution.status === 'RUNNING');
    await Promise.all(
      running.map((execution) => this.stopExecution({ executionArn: execution.executionArn })),
    );
    for (const map of this.distributedMaps.values()) await map.children.stopAll();
  }

  /** DescribeExecution's answer, once the execution has ended (at once if it has). */
  whenClosed(executionArn: string): Promise<DescribeExecutionOutput> {
    const execution = this.findExecution(executionArn);
    if (execution.status !== 'RUNNING' && execution.status !== 'PENDING_REDRIVE') {
      return Promise.resolve(this.describeExecution(executionArn));
    }
    return new Promise((resolve) => {
      const waiting = this.closeWaiters.get(executionArn) ?? [];
      waiting.push(() => resolve(this.describeExecution(executionArn)));
      this.closeWaiters.set(executionArn, waiting);
    });
  }

  /** Starts a child execution of one of the Map Runs of this (child) machine; returns its ARN. */
  startMapRunChild(request: { name: string; input: string; mapRunArn: string; index: number }): string {
    const { name, input, mapRunArn, index } = request;
    return this.begin(name, input, { mapRunArn, mapRunIndex: index }).executionArn;
  }

  /** The child executions of a Map Run this (child) machine runs, with the item each runs. */
  mapRunChildren(mapRunArn: string): { index: number; executionArn: string; status: ExecutionStatus }[] {
    return [...this.executions.values()]
      .filter((execution) => execution.mapRunArn === mapRunArn)
      .map((execution) => ({
        index: execution.mapRunIndex ?? -1,
        executionArn: execution.executionArn,
        status: execution.status,
      }));
  }

  private startExecution(request: z.infer<typeof StartExecutionInput>) {
    this.checkStateMachine(request.stateMachineArn);
    if (this.isMapRunChildMachine) {
      throw new AwsError(
        'ValidationException',
        `${request.stateMachineArn} is the state machine of a Distributed Map state: its executions are started by its Map Runs`,
      );
    }
    const name = request.name ?? randomUUID();
    if (!isValidName(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    const execution = this.begin(name, request.input ?? '{}');
    return { executionArn: execution.executionArn, startDate: execution.startDate };
  }

  /** A new execution, running; or the running one of that name and input (Standard workflows' idempotency). */
  private begin(name: string, input: string, mapRun?: { mapRunArn: string; mapRunIndex: number }): Execution {
    let parsedInput: JsonValue;
    try {
      parsedInput = JSON.parse(input) as JsonValue;
    } catch {
      throw new AwsError(
        'InvalidExecutionInput',
        'Invalid State Machine Execution Input: the input is not JSON',
      );
    }
    if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
      throw new AwsError('InvalidExecutionInput', 'The execution input exceeds the maximum size');
    }
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution: Execution = {
      executionArn,
      name,
      input,
      startDate: this.now(),
      status: 'RUNNING',
      redriveCount: 0,
      history: [],
      ...mapRun,
    };
    this.executions.set(executionArn, execution);
    this.startRun(execution, this.machine, parsedInput);
    this.notify(execution);
    return execution;
  }

  private describeExecution(executionArn: string): DescribeExecutionOutput {
    const execution = this.findExecution(executionArn);
    const redrive = redriveStatusOf(execution, this.now());
    return {
      executionArn: execution.executionArn,
      stateMachineArn: this.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      stopDate: execution.stopDate,
      mapRunArn: execution.mapRunArn,
      input: execution.input,
      inputDetails: { included: true },
      output: execution.output,
      outputDetails: execution.output === undefined ? undefined : { included: true },
      error: execution.error,
      cause: execution.cause,
      redriveCount: execution.redriveCount,
      redriveDate: execution.redriveDate,
      redriveStatus: redrive.status,
      redriveStatusReason: redrive.reason ?? undefined,
    };
  }

  private async stopExecution(request: z.infer<typeof StopExecutionInput>) {
    const execution = this.findExecution(request.executionArn);
    const run = execution.run;
    if (execution.status !== 'RUNNING' || !run) return { stopDate: execution.stopDate ?? this.now() };
    execution.status = 'ABORTED';
    execution.stopDate = this.now();
    execution.error = request.error;
    execution.cause = request.cause;
    // Abort first: the library then ignores the failure endRun gives the waiting states.
    run.handle?.abort();
    this.endRun(run);
    // The library logs ExecutionAborted after the events before it: wait until they are written.
    await Promise.race([run.consumed, new Promise((resolve) => setTimeout(resolve, STOP_SETTLE_MS).unref())]);
    this.notify(execution);
    this.forgetOldExecutions();
    return { stopDate: execution.stopDate };
  }

  private getExecutionHistory(request: z.infer<typeof HistoryInput>) {
    const execution = this.findExecution(request.executionArn);
    const ordered = request.reverseOrder ? [...execution.history].reverse() : execution.history;
    const offset = decodePageToken(
      request.nextToken,
      `history:${execution.executionArn}:${!!request.reverseOrder}`,
    );
    const size = request.maxResults || 100;
    const page = ordered.slice(offset, offset + size);
    const events = request.includeExecutionData === false ? page.map(withoutExecutionData) : page;
    const next = offset + size < ordered.length ? offset + size : undefined;
    return {
      events,
      nextToken:
        next === undefined
          ? undefined
          : encodePageToken(next, `history:${execution.executionArn}:${!!request.reverseOrder}`),
    };
  }

  /** The executions of this machine, or (mapRunArn) the child executions of one of its Map Runs. */
  private listExecutions(request: z.infer<typeof ListExecutionsInput>) {
    const { stateMachineArn, mapRunArn } = request;
    if ((stateMachineArn === undefined) === (mapRunArn === undefined)) {
      throw new AwsError(
        'ValidationException',
        'Specify either a stateMachineArn or a mapRunArn, but not both',
      );
    }
    if (stateMachineArn !== undefined) {
      this.checkStateMachine(stateMachineArn);
      if (this.isMapRunChildMachine) {
        throw new AwsError(
          'ValidationException',
          `The labelled ARN ${stateMachineArn} is not supported: give the mapRunArn`,
        );
      }
      if (request.statusFilter === 'PENDING_REDRIVE') {
        throw new AwsError('ValidationException', 'The PENDING_REDRIVE statusFilter needs a mapRunArn');
      }
    } else if (!this.options.mapRuns?.hasMapRun(mapRunArn!)) {
      throw new AwsError('ResourceNotFound', `Resource Not Found: '${mapRunArn}'`);
    }
    const scope = `list:${mapRunArn ?? ''}:${request.statusFilter ?? ''}:${request.redriveFilter ?? ''}`;
    const redriven = request.redriveFilter === 'REDRIVEN';
    const isRedriven = (execution: Execution) => execution.redriveCount > 0;
    const offset = decodePageToken(request.nextToken, scope);
    const size = request.maxResults || 100;
    const matching = [...this.executions.values()]
      .filter((execution) => mapRunArn === undefined || execution.mapRunArn === mapRunArn)
      .filter((execution) => !request.statusFilter || execution.status === request.statusFilter)
      .filter((execution) => !request.redriveFilter || isRedriven(execution) === redriven)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
    const executions: ExecutionListItem[] = matching.slice(offset, offset + size).map((execution) => ({
      executionArn: execution.executionArn,
      stateMachineArn: this.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      stopDate: execution.stopDate,
      redriveCount: execution.redriveCount,
      redriveDate: execution.redriveDate,
      // Only for a mapRunArn: one item per child execution (no ItemBatcher locally).
      ...(mapRunArn === undefined ? {} : { mapRunArn, itemCount: 1 }),
    }));
    const next = offset + size < matching.length ? encodePageToken(offset + size, scope) : undefined;
    return { executions, nextToken: next };
  }

  private sendTaskSuccess(request: z.infer<typeof TaskSuccessInput>) {
    const attempt = this.waitingAttempt(request.taskToken);
    let output: JsonValue;
    try {
      output = JSON.parse(request.output) as JsonValue;
    } catch {
      throw new AwsError('InvalidOutput', 'Invalid Output: the output is not JSON');
    }
    this.waiters.delete(request.taskToken);
    attempt.callback?.resolve(output);
    return {};
  }

  private sendTaskFailure(request: z.infer<typeof TaskFailureInput>) {
    const attempt = this.waitingAttempt(request.taskToken);
    this.waiters.delete(request.taskToken);
    attempt.callback?.reject(new StateError(request.error ?? '', request.cause ?? ''));
    return {};
  }

  private sendTaskHeartbeat(taskToken: string) {
    const attempt = this.waitingAttempt(taskToken);
    if (attempt.heartbeat) this.armHeartbeat(attempt);
    return {};
  }

  private describeMapRun(mapRunArn: string) {
    if (!this.options.mapRuns?.hasMapRun(mapRunArn)) {
      throw new AwsError('ResourceNotFound', `Resource Not Found: '${mapRunArn}'`);
    }
    return this.options.mapRuns.describeMapRun(mapRunArn);
  }

  private listMapRuns(request: z.infer<typeof ListMapRunsInput>) {
    const execution = this.findExecution(request.executionArn);
    const scope = `map-runs:${execution.executionArn}`;
    const offset = decodePageToken(request.nextToken, scope);
    const size = request.maxResults || 100;
    const mapRuns = [...this.distributedMaps.values()]
      .flatMap((map) => map.mapRunsOf(execution.executionArn))
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
    const next = offset + size < mapRuns.length ? encodePageToken(offset + size, scope) : undefined;
    return { mapRuns: mapRuns.slice(offset, offset + size), nextToken: next };
  }

  private redriveExecution(executionArn: string) {
    const execution = this.findExecution(executionArn);
    if (this.isMapRunChildMachine) {
      throw new AwsError(
        'ExecutionNotRedrivable',
        `Execution ${executionArn} is a child of a Map Run: redrive the execution that started the Map Run`,
      );
    }
    return this.redrive(execution);
  }

  /** Redrives a child execution of one of this (child) machine's Map Runs, as its Map Run's redrive does. */
  redriveMapRunChild(executionArn: string): void {
    this.redrive(this.findExecution(executionArn));
  }

  private redrive(execution: Execution) {
    const { executionArn } = execution;
    const redrive = redriveStatusOf(execution, this.now());
    const resumePoint = execution.resumePoint;
    if (redrive.status !== 'REDRIVABLE' || !resumePoint) {
      throw new AwsError(
        'ExecutionNotRedrivable',
        `Execution ${executionArn} cannot be redriven: ${redrive.reason ?? 'it never entered a state'}`,
      );
    }
    execution.redriveCount += 1;
    execution.redriveDate = this.now();
    // As on AWS, the execution is PENDING_REDRIVE until its redriven run starts.
    execution.status = 'PENDING_REDRIVE';
    execution.stopDate = undefined;
    execution.output = undefined;
    execution.error = undefined;
    execution.cause = undefined;
    this.closedExecutions -= 1;
    this.addEvent(execution, {
      type: 'ExecutionRedriven',
      executionRedrivenEventDetails: { redriveCount: execution.redriveCount },
    });
    this.pendingRedrives.add(execution);
    if (!this.redrivesHeld) setImmediate(() => this.startRedrivenRun(execution));
    return { redriveDate: execution.redriveDate };
  }

  /** Test hook: redriven executions stay PENDING_REDRIVE until the returned function is called. */
  holdRedrives(): () => void {
    this.redrivesHeld = true;
    return () => {
      this.redrivesHeld = false;
      for (const execution of [...this.pendingRedrives]) this.startRedrivenRun(execution);
    };
  }

  private startRedrivenRun(execution: Execution): void {
    if (!this.pendingRedrives.delete(execution) || execution.status !== 'PENDING_REDRIVE') return;
    const resumePoint = execution.resumePoint!;
    execution.status = 'RUNNING';
    this.startRun(execution, this.machineStartingAt(resumePoint.name), resumePoint.input, resumePoint.name);
    this.notify(execution);
  }

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  private describeStateMachine(request: { stateMachineArn: string }) {
    this.checkStateMachine(request.stateMachineArn);
    return {
      stateMachineArn: this.stateMachineArn,
      name: this.stateMachineName,
      status: 'ACTIVE',
      definition: this.definitionText,
      roleArn: this.roleArn,
      type: 'STANDARD',
      creationDate: this.creationDate,
    };
  }

  // --- Runs and the task dispatcher ---------------------------------------------------------------

  private startRun(execution: Execution, machine: StateMachine, input: JsonValue, resumedAt?: string): void {
    const redrive = resumedAt !== undefined;
    const run: Run = { ended: false, unpaired: new Map(), live: new Map(), open: new Set(), resumedAt };
    execution.run = run;
    const placeholder = `local-sfn-task-token-placeholder:${randomUUID()}`;
    const taskResourceLocalHandlers: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
    for (const [stateName, { state, resource }] of this.taskStates) {
      taskResourceLocalHandlers[stateName] = (stateInput) =>
        this.dispatch(execution, run, stateName, state, resource, placeholder, stateInput);
    }
    const runOptions: RunOptions = {
      noThrowOnAbort: true,
      overrides: {
        taskResourceLocalHandlers,
        retryIntervalOverrides: this.options.retryIntervalOverrides,
        waitTimeOverrides: this.options.waitTimeOverrides,
      },
      context: {
        Execution: {
          Id: execution.executionArn,
          Name: execution.name,
          RoleArn: this.roleArn,
          RedriveCount: execution.redriveCount,
        },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
        Task: { Token: placeholder },
      },
    };
    const handle = machine.run(input, runOptions);
    run.handle = handle;
    handle.result.catch(() => {
      // Reported through the event log (ExecutionFailed / ExecutionTimeout).
    });
    run.consumed = this.consume(execution, run, handle, redrive);
  }

  /** Runs one Task state attempt; the returned promise is what the library sees as the task's result. */
  private dispatch(
    execution: Execution,
    run: Run,
    stateName: string,
    state: TaskStateDefinition,
    resource: TaskResource,
    placeholder: string,
    input: JsonValue,
  ): Promise<JsonValue> {
    if (run.ended) return Promise.reject(new StatesRuntimeError('The execution has ended'));
    const attempt: Attempt = {
      execution,
      run,
      stateName,
      resource,
      open: true,
      pairing: 'pending',
      buffered: [],
      outcome: deferred<JsonValue>(),
      abort: new AbortController(),
      timers: [],
    };
    queueFor(run.unpaired, stateName).push(attempt);
    run.open.add(attempt);
    let parameters = input;
    if (resource.waitForTaskToken) {
      attempt.token = this.mintToken(execution);
      attempt.callback = deferred<JsonValue>();
      attempt.callback.promise.catch(() => {});
      parameters = replaceText(input, placeholder, attempt.token);
      this.waiters.set(attempt.token, attempt);
    }
    this.record(attempt, 'scheduled', { parameters, state });
    const timeoutSeconds = resource.kind === 'distributed-map' ? undefined : timeoutOf(state);
    if (timeoutSeconds !== undefined) {
      // Fires just before the library's own timer for the same state (registered after this one).
      attempt.timers.push(
        setTimeout(() => this.timeOut(attempt, 'States.Timeout', false), timeoutSeconds * 1000),
      );
    }
    if (resource.waitForTaskToken && state.HeartbeatSeconds) {
      attempt.heartbeat = { seconds: state.HeartbeatSeconds };
      this.armHeartbeat(attempt);
    }
    this.record(attempt, 'started');
    void this.perform(attempt, parameters);
    return attempt.outcome.promise;
  }

  private async perform(attempt: Attempt, parameters: JsonValue): Promise<void> {
    const redriving = attempt.run.resumedAt === attempt.stateName;
    if (redriving) attempt.run.resumedAt = undefined;
    const context: TaskContext = {
      contextObject: this.contextObjectOf(attempt),
      redriving,
      submitted: (output) => this.record(attempt, 'submitted', { output }),
      record: (body) => this.emit(attempt, body),
      signal: attempt.abort.signal,
    };
    const map = this.distributedMaps.get(attempt.stateName);
    try {
      let result =
        attempt.resource.kind === 'distributed-map' && map
          ? await map.run(parameters, context)
          : await this.integrations.invoke(attempt.resource, parameters, context);
      if (!attempt.open) return;
      if (attempt.callback) {
        this.record(attempt, 'submitted', { output: result });
        result = await attempt.callback.promise;
        if (!attempt.open) return;
      }
      this.record(attempt, 'succeeded', { output: result });
      this.closeAttempt(attempt);
      attempt.outcome.resolve(result);
    } catch (error) {
      if (!attempt.open) return;
      const failure =
        error instanceof StateError || error instanceof StatesRuntimeError
          ? error
          : new StateError(error instanceof Error ? error.name : 'Error', String(error));
      this.record(attempt, 'failed', { error: failure.name, cause: failure.message });
      this.closeAttempt(attempt);
      attempt.outcome.reject(failure);
    }
  }

  /** A task that ran out of time: `States.Timeout` is raised by the library, a heartbeat timeout by us. */
  private timeOut(attempt: Attempt, error: string, failState: boolean): void {
    if (!attempt.open) return;
    this.record(attempt, 'timedOut', { error, cause: '' });
    this.closeAttempt(attempt);
    if (failState) attempt.outcome.reject(new StateError(error, ''));
  }

  private armHeartbeat(attempt: Attempt): void {
    const heartbeat = attempt.heartbeat!;
    if (heartbeat.timer) clearTimeout(heartbeat.timer);
    heartbeat.timer = setTimeout(
      () => this.timeOut(attempt, 'States.HeartbeatTimeout', true),
      heartbeat.seconds * 1000,
    );
  }

  /** The context object (`$$`) a task's own fields read, as the library gives it to the definition. */
  private contextObjectOf(attempt: Attempt): JsonValue {
    const { execution, stateName } = attempt;
    return {
      Execution: {
        Id: execution.executionArn,
        Name: execution.name,
        RoleArn: this.roleArn,
        RedriveCount: execution.redriveCount,
        Input: JSON.parse(execution.input) as JsonValue,
        StartTime: execution.startDate.toISOString(),
      },
      StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
      State: { Name: stateName, EnteredTime: new Date().toISOString() },
    };
  }

  private closeAttempt(attempt: Attempt): void {
    attempt.open = false;
    attempt.abort.abort();
    for (const timer of attempt.timers) clearTimeout(timer);
    if (attempt.heartbeat?.timer) clearTimeout(attempt.heartbeat.timer);
    if (attempt.token) this.waiters.delete(attempt.token);
    attempt.run.open.delete(attempt);
  }

  /**
   * Ends a run: its waiting tasks are dropped, and their states fail with an uncatchable error so that
   * the library settles them (and clears its own timers) without a retry calling anything again.
   */
  private endRun(run: Run): void {
    run.ended = true;
    for (const attempt of [...run.open]) {
      this.closeAttempt(attempt);
      attempt.pairing = 'detached';
      attempt.outcome.reject(new StatesRuntimeError('The execution has ended'));
    }
    run.unpaired.clear();
    run.live.clear();
  }

  private waitingAttempt(taskToken: string): Attempt {
    const attempt = this.waiters.get(taskToken);
    if (attempt?.open) return attempt;
    const executionArn = executionOfToken(taskToken);
    if (executionArn === undefined)
      throw new AwsError('InvalidToken', 'Invalid Token: the task token is malformed');
    if (!this.executions.has(executionArn)) {
      throw new AwsError('TaskDoesNotExist', 'Task Does Not Exist: the execution of this token is unknown');
    }
    throw new AwsError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
  }

  private mintToken(execution: Execution): string {
    return Buffer.from(JSON.stringify({ e: execution.executionArn, t: randomUUID() })).toString('base64url');
  }

  private machineStartingAt(stateName: string): StateMachine {
    let machine = this.resumedMachines.get(stateName);
    if (!machine) {
      // The definition was validated once; only StartAt differs.
      machine = new StateMachine(
        { ...this.definition, StartAt: stateName },
        { validationOptions: { noValidate: true } },
      );
      this.resumedMachines.set(stateName, machine);
    }
    return machine;
  }

  // --- History, from the library's event log and the dispatcher's task events ---------------------

  private async consume(execution: Execution, run: Run, handle: RunHandle, redrive: boolean): Promise<void> {
    for await (const event of handle.eventLogs) {
      this.onLibraryEvent(execution, run, event, redrive);
    }
    run.handle = undefined;
  }

  private onLibraryEvent(execution: Execution, run: Run, event: LibraryEvent, redrive: boolean): void {
    switch (event.type) {
      case 'ExecutionStarted':
        if (!redrive) {
          this.addEvent(execution, {
            type: 'ExecutionStarted',
            executionStartedEventDetails: {
              input: execution.input,
              inputDetails: { truncated: false },
              roleArn: this.roleArn,
            },
          });
        }
        return;
      case 'StateEntered': {
        const { name, type, input } = event.state;
        if (event.index === undefined && this.topLevelStates.has(name)) {
          execution.resumePoint = { name, input };
        }
        this.addEvent(execution, {
          type: `${this.historyTypeOf(name, type)}StateEntered` as HistoryEventType,
          stateEnteredEventDetails: { name, input: json(input), inputDetails: { truncated: false } },
        });
        if (type === 'Task') this.pair(execution, run, name);
        return;
      }
      case 'StateRetried':
        if (event.state.type === 'Task') this.pair(execution, run, event.state.name);
        return;
      case 'StateFailed':
        if (event.state.type === 'Task') this.detach(execution, run, event.state.name, event.Error);
        if (event.state.type === 'Map' || event.state.type === 'Parallel') {
          this.addEvent(execution, {
            type: `${event.state.type}StateFailed` as HistoryEventType,
          });
        }
        return;
      case 'StateExited': {
        const { name, type, output } = event.state;
        if (type === 'Task') this.detach(execution, run, name, undefined);
        this.addEvent(execution, {
          type: `${this.historyTypeOf(name, type)}StateExited` as HistoryEventType,
          stateExitedEventDetails: {
            name,
            output: json(output ?? null),
            outputDetails: { truncated: false },
          },
        });
        return;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const key = `${event.type.charAt(0).toLowerCase()}${event.type.slice(1)}EventDetails`;
        this.addEvent(execution, {
          type: event.type,
          [key]: { name: event.parentState.name, index: event.index },
        });
        return;
      }
      case 'ExecutionSucceeded':
        this.finishRun(execution, run, 'SUCCEEDED', { output: json(event.output) });
        return;
      case 'ExecutionFailed':
        this.finishRun(execution, run, 'FAILED', {
          error: event.Error,
          cause: this.failureCause(execution, event.Cause),
        });
        return;
      case 'ExecutionTimeout':
        this.finishRun(execution, run, 'TIMED_OUT', { error: 'States.Timeout' });
        return;
      case 'ExecutionAborted':
        this.addEvent(execution, {
          type: 'ExecutionAborted',
          executionAbortedEventDetails: { error: execution.error, cause: execution.cause },
        });
        return;
      default:
        return;
    }
  }

  /** A state's type in the history: the library runs a Distributed Map state as a Task. */
  private historyTypeOf(stateName: string, libraryType: string): string {
    return libraryType === 'Task' && this.distributedMaps.has(stateName) ? 'Map' : libraryType;
  }

  /** Pairs the next call of a Task state with the state-entered/retried event just written. */
  private pair(execution: Execution, run: Run, stateName: string): void {
    const attempt = run.unpaired.get(stateName)?.shift();
    if (!attempt) return;
    for (const body of attempt.buffered) this.addEvent(execution, body);
    attempt.buffered = [];
    if (attempt.pairing === 'pending') {
      attempt.pairing = 'live';
      run.live.set(stateName, attempt);
    }
  }

  /** The Task state's attempt ended (failed or exited): close it if still waiting, stop logging it. */
  private detach(execution: Execution, run: Run, stateName: string, error: string | undefined): void {
    const attempt = run.live.get(stateName);
    if (!attempt) return;
    run.live.delete(stateName);
    if (attempt.open && error === 'States.Timeout') this.timeOut(attempt, error, false);
    else if (attempt.open) this.closeAttempt(attempt);
    for (const body of attempt.buffered) this.addEvent(execution, body);
    attempt.buffered = [];
    attempt.pairing = 'detached';
  }

  private finishRun(
    execution: Execution,
    run: Run,
    status: Exclude<ExecutionStatus, 'RUNNING'>,
    result: { output?: string; error?: string; cause?: string },
  ): void {
    if (execution.run !== run || execution.status !== 'RUNNING') return;
    this.endRun(run);
    execution.status = status;
    execution.stopDate = this.now();
    execution.output = result.output;
    execution.error = result.error;
    execution.cause = result.cause;
    if (status === 'SUCCEEDED') {
      this.addEvent(execution, {
        type: 'ExecutionSucceeded',
        executionSucceededEventDetails: { output: result.output, outputDetails: { truncated: false } },
      });
    } else if (status === 'FAILED') {
      this.addEvent(execution, {
        type: 'ExecutionFailed',
        executionFailedEventDetails: { error: result.error, cause: result.cause },
      });
    } else {
      this.addEvent(execution, {
        type: 'ExecutionTimedOut',
        executionTimedOutEventDetails: { error: result.error, cause: result.cause },
      });
    }
    this.notify(execution);
    this.forgetOldExecutions();
  }

  /** The library gives a Fail state without Cause a default message; AWS gives no cause. */
  private failureCause(execution: Execution, cause: unknown): string | undefined {
    const failedState = execution.resumePoint && this.definition.States[execution.resumePoint.name];
    if (
      failedState?.Type === 'Fail' &&
      !('Cause' in failedState) &&
      !('CausePath' in failedState) &&
      cause === 'Execution failed because of a Fail state'
    ) {
      return undefined;
    }
    if (cause === undefined || cause === null) return undefined;
    return typeof cause === 'string' ? cause : JSON.stringify(cause);
  }

  private record(attempt: Attempt, phase: TaskEventPhase, data: TaskEventData = {}): void {
    const body = taskEvent(attempt.resource, this.region, phase, data);
    if (body) this.emit(attempt, body);
  }

  /** An event of the attempt: written once its state's entered (or retried) event is, and not after it ended. */
  private emit(attempt: Attempt, body: EventBody): void {
    if (attempt.pairing === 'detached') return;
    if (attempt.pairing === 'live') this.addEvent(attempt.execution, body);
    else attempt.buffered.push(body);
  }

  private addEvent(execution: Execution, body: EventBody): void {
    const id = execution.history.length + 1;
    execution.history.push({ ...body, timestamp: new Date(), id, previousEventId: id - 1 });
    this.options.store?.changed(execution);
  }

  // --- Bookkeeping ----------------------------------------------------------------------------------

  private notify(execution: Execution): void {
    this.options.store?.changed(execution);
    if (execution.status !== 'RUNNING' && execution.status !== 'PENDING_REDRIVE') {
      const waiting = this.closeWaiters.get(execution.executionArn) ?? [];
      this.closeWaiters.delete(execution.executionArn);
      for (const resume of waiting) resume();
    }
    const listener = this.options.onExecutionStatusChange;
    if (!listener) return;
    const redrive = redriveStatusOf(execution, this.now());
    try {
      listener({
        executionArn: execution.executionArn,
        stateMachineArn: this.stateMachineArn,
        name: execution.name,
        status: execution.status,
        startDate: execution.startDate.getTime(),
        stopDate: execution.stopDate?.getTime() ?? null,
        input: execution.input,
        inputDetails: { included: true },
        output: execution.output ?? null,
        outputDetails: execution.output === undefined ? null : { included: true },
        error: execution.error ?? null,
        cause: execution.cause ?? null,
        redriveCount: execution.redriveCount,
        redriveDate: execution.redriveDate?.getTime() ?? null,
        redriveStatus: redrive.status,
        redriveStatusReason: redrive.reason,
      });
    } catch (error) {
      console.error('Local Step Functions: the status change listener failed', error);
    }
  }

  /** Keeps memory bounded: forgets the oldest closed executions beyond the limit. */
  private forgetOldExecutions(newlyClosed = 1): void {
    this.closedExecutions += newlyClosed;
    if (this.closedExecutions <= this.maxClosedExecutions) return;
    for (const [arn, execution] of this.executions) {
      if (this.closedExecutions <= this.maxClosedExecutions) break;
      if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') continue;
      this.executions.delete(arn);
      this.options.store?.forget(arn);
      this.closedExecutions -= 1;
    }
  }

  private checkStateMachine(stateMachineArn: string): void {
    if (!STATE_MACHINE_ARN.test(stateMachineArn)) {
      throw new AwsError('InvalidArn', `Invalid Arn: '${stateMachineArn}'`);
    }
    if (stateMachineArn !== this.stateMachineArn) {
      throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    }
  }

  private findExecution(executionArn: string): Execution {
    if (!/^arn:aws[a-z-]*:states:[^:]+:[^:]+:execution:[^:]+:[^:]+$/.test(executionArn)) {
      throw new AwsError('InvalidArn', `Invalid Arn: '${executionArn}'`);
    }
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }
}

/**
 * Reads an ASL text and fills its `${Name}` placeholders as CDK's `definitionSubstitutions` does;
 * a placeholder without a value is an error.
 */
export function substituteDefinition(aslText: string, values: Record<string, string>): object {
  const filled = aslText.replace(/\$\{([A-Za-z0-9_]+)\}/g, (placeholder, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`No value for the ASL placeholder ${placeholder}`);
    return JSON.stringify(value).slice(1, -1);
  });
  return JSON.parse(filled) as object;
}

/** Every Task state of the definition, nested ones included (state names are unique machine-wide). */
function collectTaskStates(
  definition: StateMachineDefinition,
): Map<string, { state: TaskStateDefinition; resource: TaskResource }> {
  const found = new Map<string, { state: TaskStateDefinition; resource: TaskResource }>();
  const walk = (states: StateMachineDefinition['States']) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') {
        if (found.has(name)) throw new Error(`Task state name "${name}" is used twice in the definition`);
        found.set(name, { state, resource: parseTaskResource(state.Resource) });
      } else if (state.Type === 'Parallel') {
        for (const branch of state.Branches) walk(branch.States);
      } else if (state.Type === 'Map') {
        const processor = state.ItemProcessor ?? state.Iterator;
        if (processor) walk(processor.States);
      }
    }
  };
  walk(definition.States);
  return found;
}

type TaskEventPhase = 'scheduled' | 'started' | 'submitted' | 'succeeded' | 'failed' | 'timedOut';

interface TaskEventData {
  parameters?: JsonValue;
  state?: TaskStateDefinition;
  output?: JsonValue;
  error?: string;
  cause?: string;
}

/** The history event of one phase of a Task attempt, shaped by the kind of resource. */
function taskEvent(
  resource: TaskResource,
  region: string,
  phase: TaskEventPhase,
  data: TaskEventData,
): EventBody | undefined {
  // A Distributed Map state's events are its Map Run's, written by the Map Run itself.
  if (resource.kind === 'distributed-map') return undefined;
  const output = data.output === undefined ? undefined : json(data.output);
  if (resource.kind === 'lambda-function') {
    switch (phase) {
      case 'scheduled':
        return {
          type: 'LambdaFunctionScheduled',
          lambdaFunctionScheduledEventDetails: {
            resource: resource.arn,
            input: json(data.parameters ?? null),
            inputDetails: { truncated: false },
            timeoutInSeconds: data.state ? timeoutOf(data.state) : undefined,
          },
        };
      case 'started':
        return { type: 'LambdaFunctionStarted' };
      case 'succeeded':
        return {
          type: 'LambdaFunctionSucceeded',
          lambdaFunctionSucceededEventDetails: { output, outputDetails: { truncated: false } },
        };
      case 'failed':
        return {
          type: 'LambdaFunctionFailed',
          lambdaFunctionFailedEventDetails: { error: data.error, cause: data.cause },
        };
      case 'timedOut':
        return {
          type: 'LambdaFunctionTimedOut',
          lambdaFunctionTimedOutEventDetails: { error: data.error, cause: data.cause },
        };
      default:
        return undefined;
    }
  }
  const { resourceType, resource: name } = resource;
  switch (phase) {
    case 'scheduled':
      return {
        type: 'TaskScheduled',
        taskScheduledEventDetails: {
          resourceType,
          resource: name,
          region,
          parameters: json(data.parameters ?? null),
          timeoutInSeconds: data.state ? timeoutOf(data.state) : undefined,
          heartbeatInSeconds: data.state?.HeartbeatSeconds,
        },
      };
    case 'started':
      return { type: 'TaskStarted', taskStartedEventDetails: { resourceType, resource: name } };
    case 'submitted':
      return {
        type: 'TaskSubmitted',
        taskSubmittedEventDetails: {
          resourceType,
          resource: name,
          output,
          outputDetails: { truncated: false },
        },
      };
    case 'succeeded':
      return {
        type: 'TaskSucceeded',
        taskSucceededEventDetails: {
          resourceType,
          resource: name,
          output,
          outputDetails: { truncated: false },
        },
      };
    case 'failed':
      return {
        type: 'TaskFailed',
        taskFailedEventDetails: { resourceType, resource: name, error: data.error, cause: data.cause },
      };
    case 'timedOut':
      return {
        type: 'TaskTimedOut',
        taskTimedOutEventDetails: { resourceType, resource: name, error: data.error, cause: data.cause },
      };
  }
}

/** The state's timeout as the library applies it: TimeoutSeconds, or 60 s without TimeoutSecondsPath. */
function timeoutOf(state: TaskStateDefinition & { TimeoutSecondsPath?: string }): number | undefined {
  if (state.TimeoutSeconds) return state.TimeoutSeconds;
  return state.TimeoutSecondsPath ? undefined : DEFAULT_TASK_TIMEOUT_SECONDS;
}

/** The redrive status AWS reports (its reasons as DescribeExecution's documentation lists them). */
function redriveStatusOf(
  execution: Execution,
  now: Date,
): {
  status: 'REDRIVABLE' | 'NOT_REDRIVABLE';
  reason: string | null;
} {
  if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') {
    return { status: 'NOT_REDRIVABLE', reason: 'Execution is RUNNING and cannot be redriven' };
  }
  if (execution.status === 'SUCCEEDED') {
    return { status: 'NOT_REDRIVABLE', reason: 'Execution is SUCCEEDED and cannot be redriven' };
  }
  if (execution.stopDate && !isWithinRedriveWindow(execution.stopDate, now)) {
    return { status: 'NOT_REDRIVABLE', reason: 'Execution redrivable period exceeded.' };
  }
  return { status: 'REDRIVABLE', reason: null };
}

/** Replaces the per-execution token placeholder with the token minted for one state entry. */
function replaceText(value: JsonValue, placeholder: string, replacement: string): JsonValue {
  if (typeof value === 'string') return value.split(placeholder).join(replacement);
  if (Array.isArray(value)) return value.map((item) => replaceText(item, placeholder, replacement));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, replaceText(item, placeholder, replacement)]),
    );
  }
  return value;
}

function withoutExecutionData(event: HistoryEvent): HistoryEvent {
  const copy: Record<string, unknown> = { ...event };
  for (const [key, details] of Object.entries(copy)) {
    if (!key.endsWith('EventDetails') || typeof details !== 'object' || details === null) continue;
    const {
      input: _input,
      output: _output,
      parameters: _parameters,
      ...rest
    } = details as Record<string, unknown>;
    copy[key] = rest;
  }
  return copy as unknown as HistoryEvent;
}

function encodePageToken(offset: number, scope: string): string {
  return Buffer.from(JSON.stringify({ offset, scope })).toString('base64url');
}

function decodePageToken(token: string | undefined, scope: string): number {
  if (!token) return 0;
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      offset?: unknown;
      scope?: unknown;
    };
    if (typeof decoded.offset === 'number' && decoded.scope === scope) return decoded.offset;
  } catch {
    // Falls through to the error below.
  }
  throw new AwsError('InvalidToken', 'Invalid Token: the pagination token does not belong to this request');
}

/** Execution names: 1-80 characters, no whitespace, brackets, wildcards, punctuation or control characters. */
function isValidName(name: string): boolean {
  if (name.length < 1 || name.length > 80 || NAME_FORBIDDEN.test(name)) return false;
  return [...name].every((character) => {
    const code = character.charCodeAt(0);
    return code >= 0x20 && !(code >= 0x7f && code <= 0x9f);
  });
}

function queueFor(queues: Map<string, Attempt[]>, stateName: string): Attempt[] {
  let queue = queues.get(stateName);
  if (!queue) {
    queue = [];
    queues.set(stateName, queue);
  }
  return queue;
}

function json(value: JsonValue): string {
  return JSON.stringify(value);
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AwsError(
      'ValidationException',
      `${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}
