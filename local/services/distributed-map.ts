import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DescribeExecutionOutput, ExecutionStatus, MapRunStatus } from '@aws-sdk/client-sfn';
import {
  ExecutionError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { z } from 'zod';
import { AwsError } from '#local/local-service';
import type { ExecutionStore } from '#local/services/execution-store';
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
//   A child stopped by hand (ABORTED) counts as a failed item here too (AWS names only the two).
// - The children still running then are "stopped ... by Step Functions because the Map Run failed"
//   (MapRunExecutionCounts.aborted); AWS "may continue to run child workflows ... after the tolerated
//   failure threshold is exceeded": here none starts after it.
// - History: MapStateEntered, MapStateStarted {length}, MapRunStarted {mapRunArn}, then MapRunSucceeded
//   and MapStateSucceeded, or MapRunFailed {error, cause} and MapStateFailed; MapStateExited. A bad
//   *Path value fails the execution with States.Runtime right after MapStateStarted (recorded from AWS).
// - Without ResultWriter the output is COMPACT: each child's output; a failed child's result is returned
//   "unchanged ... equivalent to having set Transformation to NONE" (its execution's description).
// - ARNs: mapRun:<machine>/<label>:<id>; children run on stateMachine:<machine>/<label>, which
//   StartExecution refuses (ValidationException). Without a Label, local mode labels the Map Run with
//   the state's name (a hash of it when the name is no valid label).

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
  store: ExecutionStore | undefined,
) => ChildMachine;

/** What a Map Run needs of the machine its child executions run on (a LocalStepFunctions). */
export interface ChildMachine {
  startMapRunChild(request: { name: string; input: string; mapRunArn: string; index: number }): string;
  redriveMapRunChild(executionArn: string): void;
  mapRunChildren(mapRunArn: string): MapRunChild[];
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

/** One Map Run: the child executions of one run of a Distributed Map state (its redrives included). */
interface MapRun {
  arn: string;
  executionArn: string;
  startDate: Date;
  stopDate?: Date;
  status: MapRunStatus;
  maxConcurrency: number;
  toleratedFailureCount: number;
  toleratedFailurePercentage: number;
  items: number;
  redriveCount: number;
  redriveDate?: Date;
}

interface Limits {
  maxConcurrency: number;
  toleratedFailureCount?: number;
  toleratedFailurePercentage?: number;
}

/** A child execution of a Map Run, as its machine reports it. */
interface MapRunChild {
  index: number;
  executionArn: string;
  status: ExecutionStatus;
}

/**
 * A Distributed Map state of a machine: runs each run of the state as a Map Run whose items are child
 * executions on a machine of their own (the item processor), and answers DescribeMapRun/ListMapRuns.
 * A redriven execution that resumes at the state redrives its last unsuccessful Map Run instead: "a
 * redriven parent workflow redrives all the unsuccessful states, including Distributed Map" — the
 * children that succeeded keep their results, the others are redriven, the items never started start.
 */
export class DistributedMapState implements MapRunDirectory {
  readonly children: ChildMachine;
  readonly childMachineArn: string;
  private readonly runs = new Map<string, MapRun>();
  private readonly mapRunPrefix: string;
  private readonly files?: MapRunFiles;

  constructor(
    readonly stateName: string,
    private readonly state: MapStateFields,
    stateMachineArn: string,
    store: ExecutionStore | undefined,
    makeChildren: ChildMachineFactory,
  ) {
    const label = state.Label ?? labelOf(stateName);
    this.childMachineArn = `${stateMachineArn}/${label}`;
    this.mapRunPrefix = `${stateMachineArn.replace(':stateMachine:', ':mapRun:')}/${label}`;
    const { ProcessorConfig: _mode, ...processor } = (state.ItemProcessor ?? state.Iterator)!;
    const childStore = store?.nested(`map-${label}`);
    this.children = makeChildren(this.childMachineArn, processor, this, childStore);
    if (childStore) {
      this.files = new MapRunFiles(join(childStore.dir, 'map-runs'));
      for (const mapRun of this.files.load()) this.runs.set(mapRun.arn, mapRun);
    }
  }

  /** Runs the state once (one attempt): its result is the array of the children's results. */
  async run(input: JsonValue, context: TaskContext): Promise<JsonValue> {
    const items = await this.itemsOf(input, context.contextObject);
    context.record({ type: 'MapStateStarted', mapStateStartedEventDetails: { length: items.length } });
    const limits = await this.limitsOf(input, context.contextObject);
    const itemInputs = await Promise.all(
      items.map((item, index) => this.itemInput(input, item, index, context)),
    );
    const executionArn = executionArnOf(context.contextObject);
    const redriven = context.redriving ? this.lastUnsuccessfulRunOf(executionArn) : undefined;
    const earlier = new Map<number, MapRunChild>();
    let mapRun: MapRun;
    if (redriven) {
      mapRun = redriven;
      for (const child of this.children.mapRunChildren(mapRun.arn)) earlier.set(child.index, child);
      Object.assign(mapRun, { status: 'RUNNING', stopDate: undefined, redriveDate: new Date() });
      mapRun.redriveCount += 1;
      context.record({
        type: 'MapRunRedriven',
        mapRunRedrivenEventDetails: { mapRunArn: mapRun.arn, redriveCount: mapRun.redriveCount },
      });
    } else {
      mapRun = {
        arn: `${this.mapRunPrefix}:${randomUUID()}`,
        executionArn,
        startDate: new Date(),
        status: 'RUNNING',
        maxConcurrency: limits.maxConcurrency,
        toleratedFailureCount: limits.toleratedFailureCount ?? 0,
        toleratedFailurePercentage: limits.toleratedFailurePercentage ?? 0,
        items: items.length,
        redriveCount: 0,
      };
      this.runs.set(mapRun.arn, mapRun);
      context.record({ type: 'MapRunStarted', mapRunStartedEventDetails: { mapRunArn: mapRun.arn } });
    }
    this.files?.save(mapRun);
    const outcome = await this.runChildren(mapRun, itemInputs, limits, earlier, context.signal);
    mapRun.stopDate = new Date();
    mapRun.status = context.signal.aborted ? 'ABORTED' : outcome.failure ? 'FAILED' : 'SUCCEEDED';
    this.files?.save(mapRun);
    // The state's attempt ended first (the execution stopped): nothing more is recorded.
    if (context.signal.aborted) throw new StatesRuntimeError('The Map Run was aborted');
    if (outcome.failure) {
      const { name, message } = outcome.failure;
      context.record({ type: 'MapRunFailed', mapRunFailedEventDetails: { error: name, cause: message } });
      context.record({ type: 'MapStateFailed' });
      throw outcome.failure;
    }
    context.record({ type: 'MapRunSucceeded' });
    context.record({ type: 'MapStateSucceeded' });
    return outcome.results;
  }

  /**
   * Runs the items (those of `earlier` children that succeeded keep their results), never more than
   * maxConcurrency at once, until all end or the Map Run fails or is aborted.
   */
  private async runChildren(
    mapRun: MapRun,
    inputs: JsonValue[],
    limits: Limits,
    earlier: Map<number, MapRunChild>,
    signal: AbortSignal,
  ): Promise<{ results: JsonValue[]; failure?: StateError }> {
    const results: JsonValue[] = new Array(inputs.length).fill(null);
    const queue: number[] = [];
    for (let index = 0; index < inputs.length; index++) {
      const child = earlier.get(index);
      if (child?.status !== 'SUCCEEDED') queue.push(index);
      else results[index] = resultOf(await this.children.whenClosed(child.executionArn));
    }
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
      while (next < queue.length && !failure && !signal.aborted) {
        const index = queue[next++]!;
        const executionArn = this.startItem(mapRun, index, inputs[index]!, earlier.get(index));
        running.add(executionArn);
        const ended = await this.children.whenClosed(executionArn);
        running.delete(executionArn);
        results[index] = resultOf(ended);
        if (ended.status === 'SUCCEEDED') continue;
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
    const workers = Math.min(limits.maxConcurrency, queue.length);
    try {
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      signal.removeEventListener('abort', stopRunning);
    }
    return { results, failure };
  }

  /** Starts the item's child execution, or redrives the unsuccessful one it had: its ARN. */
  private startItem(mapRun: MapRun, index: number, input: JsonValue, earlier?: MapRunChild): string {
    if (!earlier) {
      return this.children.startMapRunChild({
        name: randomUUID(),
        input: JSON.stringify(input),
        mapRunArn: mapRun.arn,
        index,
      });
    }
    try {
      this.children.redriveMapRunChild(earlier.executionArn);
    } catch (error) {
      // Not redrivable (past its 14 days): the item stays as it ended.
      if (!(error instanceof AwsError)) throw error;
    }
    return earlier.executionArn;
  }

  private lastUnsuccessfulRunOf(executionArn: string): MapRun | undefined {
    const last = [...this.runs.values()]
      .filter((mapRun) => mapRun.executionArn === executionArn)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime())[0];
    return last?.status === 'FAILED' || last?.status === 'ABORTED' ? last : undefined;
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

  /** Local mode is stopping: the Map Runs and their children stay on disk as they are. */
  shutdown(): void {
    this.files?.close();
    this.children.shutdown();
  }

  hasMapRun(mapRunArn: string): boolean {
    return this.runs.has(mapRunArn);
  }

  describeMapRun(mapRunArn: string): object {
    const mapRun = this.runs.get(mapRunArn);
    if (!mapRun) throw new AwsError('ResourceNotFound', `Resource Not Found: '${mapRunArn}'`);
    const children = this.children.mapRunChildren(mapRunArn);
    const executionCounts = countsOf(children);
    const pending = mapRun.status === 'RUNNING' ? mapRun.items - children.length : 0;
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
      redriveCount: mapRun.redriveCount,
      redriveDate: mapRun.redriveDate,
    };
  }

  /** ListMapRuns' items for one execution. */
  mapRunsOf(executionArn: string) {
    return [...this.runs.values()]
      .filter((mapRun) => mapRun.executionArn === executionArn)
      .map((mapRun) => ({
        executionArn: mapRun.executionArn,
        mapRunArn: mapRun.arn,
        stateMachineArn: this.childMachineArn,
        startDate: mapRun.startDate,
        stopDate: mapRun.stopDate,
      }));
  }
}

const MapRunRecord = z.object({
  arn: z.string(),
  executionArn: z.string(),
  startDate: z.iso.datetime(),
  stopDate: z.iso.datetime().optional(),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED']),
  maxConcurrency: z.number().int().min(0),
  toleratedFailureCount: z.number().int().min(0),
  toleratedFailurePercentage: z.number().min(0).max(100),
  items: z.number().int().min(0),
  redriveCount: z.number().int().min(0),
  redriveDate: z.iso.datetime().optional(),
});

/**
 * The Map Runs of one Distributed Map state on disk, beside their children's execution logs: one small
 * JSON file each, written whole when the run starts, ends or is redriven (its children are in their logs).
 */
class MapRunFiles {
  private closed = false;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** The Map Runs saved; one left RUNNING by a process that ended FAILED, as its parent and children are. */
  load(): MapRun[] {
    const loaded: MapRun[] = [];
    for (const fileName of readdirSync(this.dir)) {
      if (!fileName.endsWith('.json')) continue;
      const parsed = MapRunRecord.safeParse(parseJson(readFileSync(join(this.dir, fileName), 'utf8')));
      if (!parsed.success) {
        console.error(`Local Step Functions: ${join(this.dir, fileName)} is not a Map Run; ignored`);
        continue;
      }
      const record = parsed.data;
      const mapRun: MapRun = {
        ...record,
        startDate: new Date(record.startDate),
        stopDate: record.stopDate === undefined ? undefined : new Date(record.stopDate),
        redriveDate: record.redriveDate === undefined ? undefined : new Date(record.redriveDate),
      };
      if (mapRun.status === 'RUNNING') {
        mapRun.status = 'FAILED';
        mapRun.stopDate = new Date();
        this.save(mapRun);
      }
      loaded.push(mapRun);
    }
    return loaded;
  }

  close(): void {
    this.closed = true;
  }

  save(mapRun: MapRun): void {
    if (this.closed) return;
    const path = join(this.dir, `${mapRun.arn.split(':').at(-1)}.json`);
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify(mapRun));
      renameSync(`${path}.tmp`, path);
    } catch (error) {
      console.error(`Local Step Functions: could not save the Map Run ${mapRun.arn}`, error);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A child's result in the Map state's output: its output, or (unsuccessful) its description. */
function resultOf(ended: DescribeExecutionOutput): JsonValue {
  if (ended.status === 'SUCCEEDED') return JSON.parse(ended.output ?? 'null') as JsonValue;
  return executionRecord(ended, false);
}

function exceedsThreshold(failures: number, total: number, limits: Limits): boolean {
  const { toleratedFailureCount: count, toleratedFailurePercentage: percentage } = limits;
  if (count === undefined && percentage === undefined) return failures > 0;
  if (count !== undefined && failures > count) return true;
  return percentage !== undefined && (failures * 100) / total > percentage;
}

function countsOf(children: MapRunChild[]) {
  const count = (status: ExecutionStatus) => children.filter((child) => child.status === status).length;
  return {
    pending: 0,
    running: count('RUNNING') + count('PENDING_REDRIVE'),
    succeeded: count('SUCCEEDED'),
    failed: count('FAILED'),
    timedOut: count('TIMED_OUT'),
    aborted: count('ABORTED'),
    total: children.length,
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
