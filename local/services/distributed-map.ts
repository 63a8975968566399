import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DescribeExecutionOutput, ExecutionStatus, MapRunStatus } from '@aws-sdk/client-sfn';
import { ExecutionError, type RunOptions, StateMachine } from 'aws-local-stepfunctions';
import { z } from 'zod';
import { AwsError } from '#local/local-service';
import {
  DISTRIBUTED_MAX_CONCURRENCY,
  labelOf,
  type MapStateFields,
} from '#local/services/distributed-map-definition';
import type { ExecutionStore } from '#local/services/execution-store';
import { executionRecord } from '#local/services/nested-executions';
import {
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
      ...(context.contextObject as Record<string, JsonValue>),
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
