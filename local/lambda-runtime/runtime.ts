import { ENV, functionSettings, LAMBDA_FUNCTIONS, type LambdaFunctionId } from '../../functions/catalog.ts';
import { BACKGROUND_NICE } from '../cpu-priority.ts';
import { functionBundles } from './bundles.ts';
import { FunctionPool, type PoolStats } from './function-pool.ts';

/**
 * Most instances of each function local mode runs at once, unless LambdaRuntimeOptions says
 * otherwise: each is a worker thread or a child process of ~40 MB, so the limits follow how many
 * invocations of the function overlap in local mode's own figures (the api under 32 clients, the
 * fleet's health checks, which wait for a status command), not AWS's. More invocations at once wait
 * for a free instance; AWS would start more, up to the account's concurrency, then throttle.
 */
export const DEFAULT_MAX_INSTANCES: Record<string, number> = {
  api: 4,
  recordHostOutcome: 4,
  runSubtask: 3,
  commandCallback: 2,
  admitHost: 2,
  finishTask: 2,
  reconcileExecution: 2,
  restartTrigger: 2,
  // The task stream's mapping hands it one batch at a time.
  publishTaskEvents: 1,
  // Once a minute.
  sweepTasks: 1,
  finishBatch: 1,
};
/** A function not listed above (a new one): its instances at once. */
const MAX_INSTANCES_OTHERWISE = 2;

export interface LambdaRuntimeOptions {
  functionName: (id: LambdaFunctionId) => string;
  functionArn: (id: LambdaFunctionId) => string;
  /**
   * Local mode's environment: each function's instances get it without the product's variables
   * (ENV) the stack does not give that function, and with Lambda's own AWS_LAMBDA_* variables.
   */
  environment: Record<string, string>;
  maxInstances?: Partial<Record<LambdaFunctionId, number>>;
  /**
   * The functions an HTTP request waits for: their instances run as child processes at local mode's
   * CPU priority, the others as worker threads at BACKGROUND_NICE (README, "How local mode runs the
   * functions", gives the measurements behind the split).
   */
  interactiveFunctions?: readonly LambdaFunctionId[];
  /** Receives the cold-start lines. */
  log?: (line: string) => void;
}

/** Every product function, run as Lambda runs it: each bundle in instances of its own. */
export interface LambdaRuntime {
  /** Invokes the function; a failure is a FunctionError named after the error Lambda reports. */
  invoke(id: LambdaFunctionId, event: unknown): Promise<unknown>;
  /** `invoke` bound to each function, for the local services that call functions. */
  functions: Record<LambdaFunctionId, (event: unknown) => Promise<unknown>>;
  stats(): Record<LambdaFunctionId, PoolStats>;
  stop(): Promise<void>;
}

/** Builds (or finds cached) every function's bundle and prepares its pool; no instance starts before its first invocation. */
export async function startLambdaRuntime(options: LambdaRuntimeOptions): Promise<LambdaRuntime> {
  const ids = Object.keys(LAMBDA_FUNCTIONS) as LambdaFunctionId[];
  const bundles = await functionBundles(
    Object.fromEntries(ids.map((id) => [id, LAMBDA_FUNCTIONS[id].entry])),
  );
  const pools = Object.fromEntries(
    ids.map((id) => {
      const settings = functionSettings(id);
      const pool = new FunctionPool({
        id,
        functionName: options.functionName(id),
        functionArn: options.functionArn(id),
        bundle: bundles[id]!.file,
        environment: environmentOf(options.environment, settings.environment),
        timeoutSeconds: settings.timeoutSeconds,
        memoryMb: settings.memoryMb,
        ...(options.interactiveFunctions?.includes(id)
          ? { isolation: 'process' as const }
          : { nice: BACKGROUND_NICE, isolation: 'thread' as const }),
        maxInstances: options.maxInstances?.[id] ?? DEFAULT_MAX_INSTANCES[id] ?? MAX_INSTANCES_OTHERWISE,
        ...(options.log ? { log: options.log } : {}),
      });
      return [id, pool];
    }),
  ) as Record<LambdaFunctionId, FunctionPool>;
  return {
    invoke: (id, event) => pools[id].invoke(event),
    functions: Object.fromEntries(
      ids.map((id) => [id, (event: unknown) => pools[id].invoke(event)]),
    ) as Record<LambdaFunctionId, (event: unknown) => Promise<unknown>>,
    stats: () =>
      Object.fromEntries(ids.map((id) => [id, pools[id].stats()])) as Record<LambdaFunctionId, PoolStats>,
    stop: async () => {
      await Promise.all(ids.map((id) => pools[id].stop()));
    },
  };
}

const PRODUCT_VARIABLES = new Set<string>(Object.values(ENV));

/** As the stack configures the function: of the product's variables only those it is given. */
function environmentOf(
  environment: Record<string, string>,
  given: readonly string[],
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).filter(([name]) => !PRODUCT_VARIABLES.has(name) || given.includes(name)),
  );
}
