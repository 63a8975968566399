import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { RunOptions } from 'aws-local-stepfunctions';

type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
/** A JSON value as aws-local-stepfunctions passes it between states. */
export type JsonValue = Parameters<TaskHandlers[string]>[0];

/** A product Lambda function called in process: the payload in, the function's result out. */
export type LambdaFunction = (payload: unknown) => Promise<unknown>;

/** A history event before the service numbers and dates it. */
export type EventBody = Omit<HistoryEvent, 'id' | 'previousEventId' | 'timestamp'>;

/** The integration pattern of `states:startExecution`: return at once, or wait for the child to end. */
export type StartExecutionPattern = 'request-response' | 'sync' | 'sync:2';

/** Runs a `states:startExecution` task (see nested-executions.ts). */
export type StartExecutionTask = (
  pattern: StartExecutionPattern,
  parameters: JsonValue,
  context: TaskContext,
) => Promise<JsonValue>;

/** What a task that outlives one call (a nested execution, a Map Run) gets from the attempt it runs in. */
export interface TaskContext {
  /** The context object (`$$`) of the state, as paths in the task's own fields read it. */
  contextObject: JsonValue;
  /** The first attempt of the state a redriven execution resumes at. */
  redriving: boolean;
  /** Records the TaskSubmitted event (the call is made; the task now waits for the job it started). */
  submitted(output: JsonValue): void;
  /** Records an event of this state, in order after its entered event. */
  record(body: EventBody): void;
  /** Aborted when the attempt ends without its own result: the execution stopped, the state timed out. */
  signal: AbortSignal;
}

/** A Task state's `Resource`, parsed once. `resourceType`/`resource` are what history events show. */
export interface TaskResource {
  arn: string;
  kind:
    | 'lambda-invoke'
    | 'lambda-function'
    | 'aws-sdk'
    | 'optimized'
    | 'start-execution'
    | 'distributed-map'
    | 'unsupported';
  resourceType: string;
  resource: string;
  waitForTaskToken: boolean;
  service?: string;
  action?: string;
  startExecution?: StartExecutionPattern;
  unsupportedReason?: string;
}

/** A state failure with the name AWS gives it, matched by `Retry`/`Catch` like any other. */
export class StateError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/** An error no `Retry` or `Catch` handles, as AWS's `States.Runtime`. */
export class StatesRuntimeError extends Error {
  override readonly name = 'States.Runtime';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

const STATES_PREFIX = 'arn:aws:states:::';
const WAIT_FOR_TASK_TOKEN = '.waitForTaskToken';
/** The Resource local mode gives the Task that stands in for a Distributed Map state (never in an ASL file). */
export const DISTRIBUTED_MAP_RESOURCE = 'local:distributed-map';
const START_EXECUTION = /^states:startExecution(\.sync(?::2)?)?$/;
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/;

/** Optimized integrations reached through the same SDK path, with the error prefix AWS uses for each. */
const OPTIMIZED: Record<string, { service: string; errorPrefix: string; actions: readonly string[] }> = {
  events: { service: 'eventbridge', errorPrefix: 'EventBridge', actions: ['putEvents'] },
  dynamodb: {
    service: 'dynamodb',
    errorPrefix: 'DynamoDB',
    actions: ['getItem', 'putItem', 'updateItem', 'deleteItem'],
  },
};

/** AWS SDK integration service names whose v3 package is not `@aws-sdk/client-<name>`. */
const SDK_PACKAGES: Record<string, string> = {
  cloudwatchlogs: '@aws-sdk/client-cloudwatch-logs',
  secretsmanager: '@aws-sdk/client-secrets-manager',
  acmpca: '@aws-sdk/client-acm-pca',
  elasticloadbalancingv2: '@aws-sdk/client-elastic-load-balancing-v2',
};

/** PascalCase service names in SDK integration error names (`<Service>.<Error>`), where not just capitalized. */
const ERROR_PREFIXES: Record<string, string> = {
  dynamodb: 'DynamoDb',
  eventbridge: 'EventBridge',
  cloudwatchlogs: 'CloudWatchLogs',
  secretsmanager: 'SecretsManager',
  acmpca: 'AcmPca',
  elasticloadbalancingv2: 'ElasticLoadBalancingV2',
};

/** Services whose API members are camelCase: Step Functions passes and returns them PascalCase. */
const CAMEL_CASE_APIS = new Set(['sfn']);

export function parseTaskResource(arn: string): TaskResource {
  if (arn === DISTRIBUTED_MAP_RESOURCE) {
    return { arn, kind: 'distributed-map', resourceType: 'map', resource: arn, waitForTaskToken: false };
  }
  const lambdaFunction = LAMBDA_ARN.exec(arn);
  if (lambdaFunction) {
    return { arn, kind: 'lambda-function', resourceType: 'lambda', resource: arn, waitForTaskToken: false };
  }
  if (!arn.startsWith(STATES_PREFIX))
    return unsupported(arn, 'it is neither a Lambda function nor an integration');
  const waitForTaskToken = arn.endsWith(WAIT_FOR_TASK_TOKEN);
  const path = arn.slice(STATES_PREFIX.length, waitForTaskToken ? -WAIT_FOR_TASK_TOKEN.length : undefined);
  const nested = START_EXECUTION.exec(path);
  if (nested && !(waitForTaskToken && nested[1])) {
    const startExecution = (nested[1]?.slice(1) ?? 'request-response') as StartExecutionPattern;
    return {
      arn,
      kind: 'start-execution',
      resourceType: 'states',
      resource: arn.slice(`${STATES_PREFIX}states:`.length),
      waitForTaskToken,
      startExecution,
    };
  }
  const separator = path.lastIndexOf(':');
  const resourceType = path.slice(0, separator);
  const action = path.slice(separator + 1);
  const base = {
    arn,
    resourceType,
    resource: waitForTaskToken ? `${action}${WAIT_FOR_TASK_TOKEN}` : action,
    waitForTaskToken,
  };
  if (action.includes('.'))
    return unsupported(arn, `the integration pattern of "${action}" is not supported`);
  if (resourceType === 'lambda' && action === 'invoke') return { ...base, kind: 'lambda-invoke' };
  if (resourceType.startsWith('aws-sdk:') && separator > 0) {
    return { ...base, kind: 'aws-sdk', service: resourceType.slice('aws-sdk:'.length), action };
  }
  const optimized = OPTIMIZED[resourceType];
  if (optimized?.actions.includes(action)) {
    return { ...base, kind: 'optimized', service: optimized.service, action };
  }
  return unsupported(arn, 'this integration is not available locally');
}

function unsupported(arn: string, reason: string): TaskResource {
  return {
    arn,
    kind: 'unsupported',
    resourceType: 'unknown',
    resource: arn,
    waitForTaskToken: false,
    unsupportedReason: `Resource ${arn} cannot run locally: ${reason}`,
  };
}

interface SdkService {
  client: { send(command: unknown): Promise<unknown> };
  commands: Record<string, unknown>;
}

/**
 * Runs the call a Task state's resource names, in process: product Lambda functions by name, AWS SDK
 * (and a few optimized) integrations through the SDK v3 client of the service, configured the standard
 * way (AWS_ENDPOINT_URL_<SERVICE>, AWS_REGION). Failures become the state errors AWS raises.
 */
export class TaskIntegrations {
  private readonly sdkServices = new Map<string, Promise<SdkService>>();

  constructor(
    private readonly lambdaFunctions: Record<string, LambdaFunction>,
    private readonly startExecution: StartExecutionTask,
  ) {}

  /** The task's result (before a `.waitForTaskToken` callback, the result of the call that was made). */
  async invoke(resource: TaskResource, input: JsonValue, context: TaskContext): Promise<JsonValue> {
    switch (resource.kind) {
      case 'lambda-invoke': {
        const parameters = asObject(input, 'lambda:invoke needs Parameters with FunctionName');
        if (typeof parameters.FunctionName !== 'string') {
          throw new StatesRuntimeError('lambda:invoke needs a FunctionName string in Parameters');
        }
        const payload = await this.callFunction(parameters.FunctionName, parameters.Payload ?? {});
        return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
      }
      case 'lambda-function':
        return this.callFunction(resource.arn, input);
      case 'aws-sdk':
        return this.callSdk(resource.service!, resource.action!, input, errorPrefixOf(resource.service!));
      case 'optimized':
        return this.callOptimized(resource, input);
      case 'start-execution':
        return this.startExecution(resource.startExecution!, input, context);
      case 'distributed-map':
        throw new StatesRuntimeError('A Distributed Map state runs as a Map Run, not as a task');
      case 'unsupported':
        throw new StatesRuntimeError(resource.unsupportedReason);
    }
  }

  private async callFunction(functionName: string, payload: unknown): Promise<JsonValue> {
    const run = this.findFunction(functionName);
    if (!run) {
      throw new StateError(
        'Lambda.ResourceNotFoundException',
        `Function not found: ${functionName} (local mode knows: ${Object.keys(this.lambdaFunctions).join(', ')})`,
      );
    }
    let result: unknown;
    try {
      result = await run(JSON.parse(JSON.stringify(payload)));
    } catch (error) {
      throw lambdaError(error);
    }
    return toJson(result ?? null);
  }

  private findFunction(nameOrArn: string): LambdaFunction | undefined {
    const exact = this.lambdaFunctions[nameOrArn];
    if (exact) return exact;
    const wanted = functionNameOf(nameOrArn);
    const match = Object.entries(this.lambdaFunctions).find(([key]) => functionNameOf(key) === wanted);
    return match?.[1];
  }

  private async callOptimized(resource: TaskResource, input: JsonValue): Promise<JsonValue> {
    const { errorPrefix } = OPTIMIZED[resource.resourceType]!;
    if (resource.resourceType !== 'events') {
      return this.callSdk(resource.service!, resource.action!, input, errorPrefix);
    }
    // The optimized PutEvents takes Detail as JSON and fails the state on any failed entry.
    const parameters = asObject(input, 'events:putEvents needs Parameters with Entries');
    const entries = Array.isArray(parameters.Entries) ? parameters.Entries : [];
    const request = {
      ...parameters,
      Entries: entries.map((entry) => {
        const fields = asObject(entry, 'each PutEvents entry must be an object');
        const detail = fields.Detail;
        return typeof detail === 'string' || detail === undefined
          ? fields
          : { ...fields, Detail: JSON.stringify(detail) };
      }),
    };
    const output = await this.callSdk('eventbridge', 'putEvents', request, errorPrefix);
    const failed = (output as { FailedEntryCount?: number }).FailedEntryCount ?? 0;
    if (failed > 0) throw new StateError(`${errorPrefix}.FailedEntry`, JSON.stringify(output));
    return output;
  }

  private async callSdk(
    service: string,
    action: string,
    input: JsonValue,
    errorPrefix: string,
  ): Promise<JsonValue> {
    const sdk = await this.sdkService(service, errorPrefix);
    const commandName = `${pascalCase(action)}Command`;
    const Command = sdk.commands[commandName];
    if (typeof Command !== 'function') {
      throw new StatesRuntimeError(`The AWS SDK for ${service} has no ${action} action (${commandName})`);
    }
    const camelCase = CAMEL_CASE_APIS.has(service);
    const request = camelCase ? renameKeys(input, lowerFirst) : input;
    let output: unknown;
    try {
      output = await sdk.client.send(new (Command as new (input: unknown) => unknown)(request ?? {}));
    } catch (error) {
      throw sdkError(error, errorPrefix);
    }
    const result = toJson(output);
    return camelCase ? renameKeys(result, upperFirst) : result;
  }

  private sdkService(service: string, errorPrefix: string): Promise<SdkService> {
    let loading = this.sdkServices.get(service);
    if (!loading) {
      loading = loadSdkService(service, errorPrefix);
      this.sdkServices.set(service, loading);
      loading.catch(() => this.sdkServices.delete(service));
    }
    return loading;
  }
}

async function loadSdkService(service: string, errorPrefix: string): Promise<SdkService> {
  const packageName = SDK_PACKAGES[service] ?? `@aws-sdk/client-${service}`;
  let commands: Record<string, unknown>;
  try {
    commands = (await import(packageName)) as Record<string, unknown>;
  } catch {
    throw new StatesRuntimeError(
      `The AWS SDK integration ${errorPrefix} needs ${packageName}, not installed`,
    );
  }
  const clientName = Object.keys(commands).find(
    (name) => name.endsWith('Client') && !name.startsWith('_') && typeof commands[name] === 'function',
  );
  if (!clientName) throw new StatesRuntimeError(`${packageName} exports no client`);
  const Client = commands[clientName] as new (config: object) => SdkService['client'];
  return { client: new Client({}), commands };
}

/** AWS names a Lambda function's failure after its error type; the cause is the runtime's error JSON. */
function lambdaError(error: unknown): StateError {
  const errorType = error instanceof Error ? error.name : 'Error';
  const errorMessage = error instanceof Error ? error.message : String(error);
  const trace = error instanceof Error && error.stack ? error.stack.split('\n') : [];
  return new StateError(errorType, JSON.stringify({ errorMessage, errorType, trace }));
}

/** SDK integration errors are `<Service>.<Error>Exception`, as AWS names them. */
function sdkError(error: unknown, errorPrefix: string): StateError {
  if (!(error instanceof Error)) return new StateError(`${errorPrefix}.SdkClientException`, String(error));
  const isServiceError = typeof (error as { $metadata?: unknown }).$metadata === 'object';
  if (!isServiceError) return new StateError(`${errorPrefix}.SdkClientException`, error.message);
  const name = error.name.endsWith('Exception') ? error.name : `${error.name}Exception`;
  return new StateError(`${errorPrefix}.${name}`, error.message);
}

function errorPrefixOf(service: string): string {
  return ERROR_PREFIXES[service] ?? upperFirst(service);
}

function functionNameOf(nameOrArn: string): string {
  return LAMBDA_ARN.exec(nameOrArn)?.[1] ?? nameOrArn.split(':')[0]!;
}

export function asObject(value: unknown, message: string): Record<string, JsonValue> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new StatesRuntimeError(message);
  return value as Record<string, JsonValue>;
}

/** Converts an SDK value to JSON: dates as ISO strings, blobs as base64, no `$metadata`. */
export function toJson(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map((item) => toJson(item));
  if (typeof value === 'object') {
    const result: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === '$metadata' || item === undefined) continue;
      result[key] = toJson(item);
    }
    return result;
  }
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return null;
}

function renameKeys(value: JsonValue, rename: (key: string) => string): JsonValue {
  if (Array.isArray(value)) return value.map((item) => renameKeys(item, rename));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [rename(key), renameKeys(item, rename)]),
  );
}

function pascalCase(action: string): string {
  return upperFirst(action);
}

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
