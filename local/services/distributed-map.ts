import { createHash, randomUUID } from 'node:crypto';
import type { DescribeExecutionOutput, ExecutionStatus, MapRunStatus } from '@aws-sdk/client-sfn';
import {
  ExecutionError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { AwsError } from '#local/local-service';
import { executionRecord } from '#local/services/nested-executions';
import {
  DISTRIBUTED_MAP_RESOURCE,
  type JsonValue,
  StateError,
  StatesRuntimeError,
  type TaskContext,
} from '#local/services/step-functions-tasks';

// AWS facts this file follows (Step Functions developer guide and API reference, botocore's model):
// - Distributed mode runs each item as a child workflow execution with its own history; "up to 10,000
//   parallel child workflow executions" (and 10,000 when MaxConcurrency is not given).
// - The Map Run fails with States.ExceedToleratedFailureThreshold once the failed or timed-out items
//   exceed ToleratedFailureCount, or their share of all items exceeds ToleratedFailurePercentage (0-100,
//   default 0: any failure fails it); with both, exceeding either fails it.
// - The children still running then are "stopped ... by Step Functions because the Map Run failed"
//   (MapRunExecutionCounts.aborted).
// - History: MapStateEntered, MapStateStarted {length}, MapRunStarted {mapRunArn}, then MapRunSucceeded
//   and MapStateSucceeded, or MapRunFailed {error, cause} and MapStateFailed; MapStateExited. A bad
//   *Path value fails the execution with States.Runtime right after MapStateStarted (recorded from AWS).
// - Without ResultWriter the output is COMPACT: each child's output; a failed child's result is returned
//   "unchanged ... equivalent to having set Transformation to NONE" (its execution's description).
// - ARNs: mapRun:<machine>/<label>:<id>; children run on stateMachine:<machine>/<label>, which
//   StartExecution refuses (ValidationException).

/** The most child executions a Distributed Map runs at once, and the default. */
export const DISTRIBUTED_MAX_CONCURRENCY = 10_000;
/** The library times a Task out after TimeoutSeconds: the longest a Node timer allows (24.8 days). */
const STAND_IN_TIMEOUT_SECONDS = 2_147_483;
const LABEL_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const DISTRIBUTED_ONLY_FIELDS = [
  'Label',
  'ItemReader',
  'ItemBatcher',
  'ResultWriter',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
] as const;
const NOT_RUN_LOCALLY = ['ItemReader', 'ItemBatcher', 'ResultWriter'] as const;

type Json = Record<string, unknown>;

/** A Map state's fields, as read here (JSONPath). */
export interface MapStateFields extends Json {
  ItemProcessor?: ProcessorFields;
  Iterator?: ProcessorFields;
  ItemsPath?: string;
  ItemSelector?: JsonValue;
  Parameters?: JsonValue;
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  ToleratedFailureCount?: number;
  ToleratedFailureCountPath?: string;
  ToleratedFailurePercentage?: number;
  ToleratedFailurePercentagePath?: string;
  Label?: string;
}

interface ProcessorFields extends Json {
  ProcessorConfig?: { Mode?: string; ExecutionType?: string };
  StartAt: string;
  States: Record<string, Json>;
}

/** DescribeMapRun's answer for the Map Runs a child machine runs the executions of. */
export interface MapRunDirectory {
  describeMapRun(mapRunArn: string): object;
  hasMapRun(mapRunArn: string): boolean;
}

/** Makes the machine the child executions of one Distributed Map state run on. */
export type ChildMachineFactory = (
  childMachineArn: string,
  definition: object,
  mapRuns: MapRunDirectory,
) => ChildMachine;

/** What a Map Run needs of the machine its child executions run on (a LocalStepFunctions). */
export interface ChildMachine {
  startMapRunChild(request: { name: string; input: string; mapRunArn: string }): string;
  whenClosed(executionArn: string): Promise<DescribeExecutionOutput>;
  answer(operation: string, input: unknown): Promise<unknown>;
  stopAll(): Promise<void>;
  shutdown(): void;
}

/**
 * The definition the library runs: each Distributed Map state (not those inside another one's item
 * processor, which its child machine runs) becomes a Task whose handler runs the Map Run. Its own fields
 * (InputPath, ResultSelector, ResultPath, OutputPath, Retry, Catch, Next/End) keep their meaning. Throws
 * what CreateStateMachine refuses, and what local mode cannot run.
 */
export function prepareDistributedMaps(definition: object): {
  definition: StateMachineDefinition;
  maps: Map<string, MapStateFields>;
} {
  const copy = structuredClone(definition) as Json;
  const maps = new Map<string, MapStateFields>();
  const labels = new Set<string>();
  const topLanguage = copy.QueryLanguage;
  const walk = (states: Record<string, Json>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Parallel') {
        for (const branch of state.Branches as ProcessorFields[]) walk(branch.States);
      }
      if (state.Type !== 'Map') continue;
      const map = state as MapStateFields;
      const processor = map.ItemProcessor ?? map.Iterator;
      if (processor?.ProcessorConfig?.Mode !== 'DISTRIBUTED') {
        const field = DISTRIBUTED_ONLY_FIELDS.find((key) => key in map);
        if (field) invalid(name, field, 'is only allowed in a Map state in DISTRIBUTED mode');
        if (processor) walk(processor.States);
        continue;
      }
      checkDistributedMap(name, map, topLanguage, labels);
      maps.set(name, structuredClone(map));
      states[name] = standIn(map);
    }
  };
  walk(copy.States as Record<string, Json>);
  return { definition: copy as unknown as StateMachineDefinition, maps };
}

function checkDistributedMap(name: string, map: MapStateFields, topLanguage: unknown, labels: Set<string>) {
  const processor = (map.ItemProcessor ?? map.Iterator)!;
  if ((map.QueryLanguage ?? topLanguage) === 'JSONata') {
    throw new Error(`Local mode runs Distributed Map states written with JSONPath only (state "${name}")`);
  }
  if (processor.ProcessorConfig?.ExecutionType !== 'STANDARD') {
    throw new Error(
      `Local mode runs Distributed Map child workflows of ExecutionType STANDARD only (state "${name}")`,
    );
  }
  for (const field of NOT_RUN_LOCALLY) {
    if (field in map)
      throw new Error(`Local mode cannot run the ${field} of Distributed Map state "${name}"`);
  }
  for (const [literal, path] of [
    ['MaxConcurrency', 'MaxConcurrencyPath'],
    ['ToleratedFailureCount', 'ToleratedFailureCountPath'],
    ['ToleratedFailurePercentage', 'ToleratedFailurePercentagePath'],
    ['ItemSelector', 'Parameters'],
  ] as const) {
    if (literal in map && path in map) invalid(name, path, `cannot be given with ${literal}`);
  }
  const { MaxConcurrency, ToleratedFailureCount, ToleratedFailurePercentage, Label } = map;
  if (
    MaxConcurrency !== undefined &&
    !(
      Number.isInteger(MaxConcurrency) &&
      MaxConcurrency >= 0 &&
      MaxConcurrency <= DISTRIBUTED_MAX_CONCURRENCY
    )
  ) {
    invalid(name, 'MaxConcurrency', `must be an integer from 0 to ${DISTRIBUTED_MAX_CONCURRENCY}`);
  }
  if (
    ToleratedFailureCount !== undefined &&
    !(Number.isInteger(ToleratedFailureCount) && ToleratedFailureCount >= 0)
  ) {
    invalid(name, 'ToleratedFailureCount', 'must be a non-negative integer');
  }
  if (
    ToleratedFailurePercentage !== undefined &&
    !(
      typeof ToleratedFailurePercentage === 'number' &&
      ToleratedFailurePercentage >= 0 &&
      ToleratedFailurePercentage <= 100
    )
  ) {
    invalid(name, 'ToleratedFailurePercentage', 'must be a number from 0 to 100');
  }
  if (Label !== undefined) {
    if (!isValidLabel(Label)) {
      throw new Error(
        `Invalid State Machine Definition: 'INVALID_LABEL_NAME: the Label of state "${name}" must be 1 to 40 characters, without whitespace, brackets, wildcards, punctuation or control characters'`,
      );
    }
    if (labels.has(Label)) {
      throw new Error(
        `Invalid State Machine Definition: 'DUPLICATE_LABEL_NAME: the Label "${Label}" is used more than once'`,
      );
    }
    labels.add(Label);
  }
}

function invalid(stateName: string, field: string, rule: string): never {
  throw new Error(
    `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: the field "${field}" ${rule} at /States/${stateName}/${field}'`,
  );
}

/** The Task that stands in for a Distributed Map state in the library's definition. */
function standIn(map: MapStateFields): Json {
  const kept: Json = {};
  for (const field of ['Comment', 'InputPath', 'ResultSelector', 'ResultPath', 'OutputPath', 'Next', 'End']) {
    if (field in map) kept[field] = map[field];
  }
  // States.TaskFailed matches Task states only; the stand-in is a Task to the library, the state is not.
  const taskOnly = (handlers: unknown) =>
    (handlers as { ErrorEquals: string[] }[]).map((handler) => ({
      ...handler,
      ErrorEquals: handler.ErrorEquals.map((name) =>
        name === 'States.TaskFailed' ? 'States.TaskFailed (Task states only)' : name,
      ),
    }));
  if (map.Retry) kept.Retry = taskOnly(map.Retry);
  if (map.Catch) kept.Catch = taskOnly(map.Catch);
  return {
    ...kept,
    Type: 'Task',
    Resource: DISTRIBUTED_MAP_RESOURCE,
    TimeoutSeconds: STAND_IN_TIMEOUT_SECONDS,
  };
}

/** One Map Run: the child executions of one run of a Distributed Map state. */
interface MapRun {
  arn: string;
  executionArn: string;
  childMachineArn: string;
  startDate: Date;
  stopDate?: Date;
  status: MapRunStatus;
  maxConcurrency: number;
  toleratedFailureCount: number;
  toleratedFailurePercentage: number;
  items: number;
  /** Child executions started, by ARN, with their status as last seen. */
  children: Map<string, ExecutionStatus>;
}

interface Limits {
  maxConcurrency: number;
  toleratedFailureCount?: number;
  toleratedFailurePercentage?: number;
}

/**
 * A Distributed Map state of a machine: runs each run of the state as a Map Run whose items are child
 * executions on a machine of their own (the item processor), and answers DescribeMapRun/ListMapRuns.
 */
export class DistributedMapState implements MapRunDirectory {
  readonly children: ChildMachine;
  readonly childMachineArn: string;
  private readonly runs = new Map<string, MapRun>();
  private readonly mapRunPrefix: string;

  constructor(
    readonly stateName: string,
    private readonly state: MapStateFields,
    stateMachineArn: string,
    makeChildren: ChildMachineFactory,
  ) {
    const label = state.Label ?? labelOf(stateName);
    this.childMachineArn = `${stateMachineArn}/${label}`;
    this.mapRunPrefix = `${stateMachineArn.replace(':stateMachine:', ':mapRun:')}/${label}`;
    const { ProcessorConfig: _mode, ...processor } = (state.ItemProcessor ?? state.Iterator)!;
    this.children = makeChildren(this.childMachineArn, processor, this);
  }

  /** Runs the state once (one attempt): its result is the array of the children's results. */
  async run(input: JsonValue, context: TaskContext): Promise<JsonValue> {
    const items = await this.itemsOf(input, context.contextObject);
    context.record({ type: 'MapStateStarted', mapStateStartedEventDetails: { length: items.length } });
    const limits = await this.limitsOf(input, context.contextObject);
    const itemInputs = await Promise.all(
      items.map((item, index) => this.itemInput(input, item, index, context)),
    );
    const mapRun: MapRun = {
      arn: `${this.mapRunPrefix}:${randomUUID()}`,
      executionArn: executionArnOf(context.contextObject),
      childMachineArn: this.childMachineArn,
      startDate: new Date(),
      status: 'RUNNING',
      maxConcurrency: limits.maxConcurrency,
      toleratedFailureCount: limits.toleratedFailureCount ?? 0,
      toleratedFailurePercentage: limits.toleratedFailurePercentage ?? 0,
      items: items.length,
      children: new Map(),
    };
    this.runs.set(mapRun.arn, mapRun);
    context.record({ type: 'MapRunStarted', mapRunStartedEventDetails: { mapRunArn: mapRun.arn } });
    const outcome = await this.runChildren(mapRun, itemInputs, limits, context.signal);
    mapRun.stopDate = new Date();
    // The state's attempt ended first (the execution stopped): nothing more is recorded.
    if (context.signal.aborted) {
      mapRun.status = 'ABORTED';
      throw new StatesRuntimeError('The Map Run was aborted');
    }
    if (outcome.failure) {
      mapRun.status = 'FAILED';
      const { name, message } = outcome.failure;
      context.record({ type: 'MapRunFailed', mapRunFailedEventDetails: { error: name, cause: message } });
      context.record({ type: 'MapStateFailed' });
      throw outcome.failure;
    }
    mapRun.status = 'SUCCEEDED';
    context.record({ type: 'MapRunSucceeded' });
    context.record({ type: 'MapStateSucceeded' });
    return outcome.results;
  }

  /** Runs the items, never more than maxConcurrency at once, until all end or the run fails or aborts. */
  private async runChildren(
    mapRun: MapRun,
    inputs: JsonValue[],
    limits: Limits,
    signal: AbortSignal,
  ): Promise<{ results: JsonValue[]; failure?: StateError }> {
    const results: JsonValue[] = new Array(inputs.length).fill(null);
    const running = new Set<string>();
    let next = 0;
    let failures = 0;
    let failure: StateError | undefined;
    const stopRunning = () => {
      for (const executionArn of running) {
        this.children.answer('StopExecution', { executionArn }).catch(() => {
          // It ended meanwhile.
        });
      }
    };
    signal.addEventListener('abort', stopRunning, { once: true });
    const worker = async () => {
      while (next < inputs.length && !failure && !signal.aborted) {
        const index = next++;
        const executionArn = this.children.startMapRunChild({
          name: randomUUID(),
          input: JSON.stringify(inputs[index]),
          mapRunArn: mapRun.arn,
        });
        running.add(executionArn);
        mapRun.children.set(executionArn, 'RUNNING');
        const ended = await this.children.whenClosed(executionArn);
        running.delete(executionArn);
        mapRun.children.set(executionArn, ended.status!);
        if (ended.status === 'SUCCEEDED') {
          results[index] = JSON.parse(ended.output ?? 'null') as JsonValue;
          continue;
        }
        results[index] = executionRecord(ended, false);
        failures += 1;
        if (!failure && !signal.aborted && exceedsThreshold(failures, inputs.length, limits)) {
          failure = new StateError(
            'States.ExceedToleratedFailureThreshold',
            `The Map Run ${mapRun.arn} exceeded its tolerated failure threshold: ${failures} of ${inputs.length} items failed`,
          );
          stopRunning();
        }
      }
    };
    const workers = Math.min(limits.maxConcurrency, inputs.length);
    try {
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      signal.removeEventListener('abort', stopRunning);
    }
    return { results, failure };
  }

  private async itemsOf(input: JsonValue, contextObject: JsonValue): Promise<JsonValue[]> {
    const path = this.state.ItemsPath ?? '$';
    const items = await this.valueAt(path, input, contextObject);
    if (!Array.isArray(items)) {
      throw this.runtimeError(
        `The ItemsPath field refers to value "${shown(items)}" which is not a JSON array: ${path}`,
      );
    }
    return items;
  }

  private async limitsOf(input: JsonValue, contextObject: JsonValue): Promise<Limits> {
    const state = this.state;
    let maxConcurrency = state.MaxConcurrency ?? 0;
    if (state.MaxConcurrencyPath !== undefined) {
      const value = await this.valueAt(state.MaxConcurrencyPath, input, contextObject);
      if (!Number.isInteger(value)) {
        throw this.runtimeError(
          `The MaxConcurrencyPath field refers to value "${shown(value)}" which is not a valid integer: ${state.MaxConcurrencyPath}`,
        );
      }
      maxConcurrency = value as number;
      if (maxConcurrency < 0) {
        throw this.runtimeError(
          `Expected non-negative integer for MaxConcurrency, got '${maxConcurrency}' instead.`,
        );
      }
      if (maxConcurrency > DISTRIBUTED_MAX_CONCURRENCY) {
        throw this.runtimeError(
          `MaxConcurrency cannot exceed ${DISTRIBUTED_MAX_CONCURRENCY} in DISTRIBUTED mode.`,
        );
      }
    }
    let toleratedFailureCount = state.ToleratedFailureCount;
    if (state.ToleratedFailureCountPath !== undefined) {
      const value = await this.valueAt(state.ToleratedFailureCountPath, input, contextObject);
      if (!Number.isInteger(value)) {
        throw this.runtimeError(
          `The ToleratedFailureCountPath field refers to value "${shown(value)}" which is not a valid integer: ${state.ToleratedFailureCountPath}`,
        );
      }
      if ((value as number) < 0) throw this.runtimeError('ToleratedFailureCount cannot be negative.');
      toleratedFailureCount = value as number;
    }
    let toleratedFailurePercentage = state.ToleratedFailurePercentage;
    if (state.ToleratedFailurePercentagePath !== undefined) {
      const value = await this.valueAt(state.ToleratedFailurePercentagePath, input, contextObject);
      if (typeof value !== 'number') {
        throw this.runtimeError(
          `The ToleratedFailurePercentagePath field refers to value "${shown(value)}" which is not a valid float: ${state.ToleratedFailurePercentagePath}`,
        );
      }
      if (value < 0 || value > 100)
        throw this.runtimeError('ToleratedFailurePercentage must be between 0 and 100.');
      toleratedFailurePercentage = value;
    }
    return {
      maxConcurrency: maxConcurrency === 0 ? DISTRIBUTED_MAX_CONCURRENCY : maxConcurrency,
      toleratedFailureCount,
      toleratedFailurePercentage,
    };
  }

  private itemInput(
    input: JsonValue,
    item: JsonValue,
    index: number,
    context: TaskContext,
  ): Promise<JsonValue> {
    const selector = this.state.ItemSelector ?? this.state.Parameters;
    if (selector === undefined) return Promise.resolve(item);
    const contextObject = {
      ...(context.contextObject as Json),
      Map: { Item: { Index: index, Value: item } },
    };
    return evaluate(selector, input, contextObject as JsonValue);
  }

  private async valueAt(path: string, input: JsonValue, contextObject: JsonValue): Promise<JsonValue> {
    const selected = (await evaluate({ 'value.$': path }, input, contextObject)) as { value: JsonValue };
    return selected.value;
  }

  private runtimeError(detail: string): StatesRuntimeError {
    return new StatesRuntimeError(
      `An error occurred while executing the state '${this.stateName}'. ${detail}`,
    );
  }

  hasMapRun(mapRunArn: string): boolean {
    return this.runs.has(mapRunArn);
  }

  describeMapRun(mapRunArn: string): object {
    const mapRun = this.runs.get(mapRunArn);
    if (!mapRun) throw new AwsError('ResourceNotFound', `Resource Not Found: '${mapRunArn}'`);
    const executionCounts = countsOf(mapRun);
    const pending = mapRun.status === 'RUNNING' ? mapRun.items - mapRun.children.size : 0;
    return {
      mapRunArn: mapRun.arn,
      executionArn: mapRun.executionArn,
      status: mapRun.status,
      startDate: mapRun.startDate,
      stopDate: mapRun.stopDate,
      maxConcurrency: mapRun.maxConcurrency,
      toleratedFailurePercentage: mapRun.toleratedFailurePercentage,
      toleratedFailureCount: mapRun.toleratedFailureCount,
      itemCounts: { ...executionCounts, pending, total: executionCounts.total + pending },
      executionCounts,
      redriveCount: 0,
    };
  }

  /** ListMapRuns' items for one execution, newest first. */
  mapRunsOf(executionArn: string): {
    executionArn: string;
    mapRunArn: string;
    stateMachineArn: string;
    startDate: Date;
    stopDate?: Date;
  }[] {
    return [...this.runs.values()]
      .filter((mapRun) => mapRun.executionArn === executionArn)
      .map((mapRun) => ({
        executionArn: mapRun.executionArn,
        mapRunArn: mapRun.arn,
        stateMachineArn: mapRun.childMachineArn,
        startDate: mapRun.startDate,
        stopDate: mapRun.stopDate,
      }));
  }
}

function exceedsThreshold(failures: number, total: number, limits: Limits): boolean {
  const { toleratedFailureCount: count, toleratedFailurePercentage: percentage } = limits;
  if (count === undefined && percentage === undefined) return failures > 0;
  if (count !== undefined && failures > count) return true;
  return percentage !== undefined && (failures * 100) / total > percentage;
}

function countsOf(mapRun: MapRun) {
  const statuses = [...mapRun.children.values()];
  const count = (status: ExecutionStatus) => statuses.filter((value) => value === status).length;
  return {
    pending: 0,
    running: count('RUNNING'),
    succeeded: count('SUCCEEDED'),
    failed: count('FAILED'),
    timedOut: count('TIMED_OUT'),
    aborted: count('ABORTED'),
    total: statuses.length,
    resultsWritten: 0,
  };
}

/** Without a Label, a label from the state name: the name itself when it is a valid label. */
function labelOf(stateName: string): string {
  if (isValidLabel(stateName)) return stateName;
  return createHash('sha256').update(stateName).digest('hex').slice(0, 16);
}

/** Labels: 1-40 characters, no whitespace, brackets, wildcards, punctuation or control characters. */
function isValidLabel(label: unknown): boolean {
  if (typeof label !== 'string' || label.length < 1 || label.length > 40 || LABEL_FORBIDDEN.test(label)) {
    return false;
  }
  return [...label].every((character) => {
    const code = character.charCodeAt(0);
    return code >= 0x20 && !(code >= 0x7f && code <= 0x9f);
  });
}

function executionArnOf(contextObject: JsonValue): string {
  return (contextObject as { Execution: { Id: string } }).Execution.Id;
}

function shown(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const evaluators = new WeakMap<object, StateMachine>();

/**
 * A payload template or path evaluated by the library itself (JSONPath, intrinsic functions, `$$`), as
 * a Pass state's Parameters: the same evaluation as the rest of the definition gets.
 */
async function evaluate(template: JsonValue, input: JsonValue, contextObject: JsonValue): Promise<JsonValue> {
  const key = template as object;
  let machine = evaluators.get(key);
  if (!machine) {
    machine = new StateMachine(
      {
        StartAt: 'Evaluate',
        States: { Evaluate: { Type: 'Pass', Parameters: template as Record<string, JsonValue>, End: true } },
      },
      { validationOptions: { noValidate: true } },
    );
    evaluators.set(key, machine);
  }
  try {
    return (await machine.run(input, { context: contextObject as RunOptions['context'] })
      .result) as JsonValue;
  } catch (error) {
    const cause = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
    throw new StatesRuntimeError(cause instanceof Error ? cause.message : String(cause));
  }
}
