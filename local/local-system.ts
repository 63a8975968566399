import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent, EventBridgeEvent } from 'aws-lambda';
import type { ConsoleConfig } from '#core/console';
import {
  commandFinishedPattern,
  EXECUTION_STATUS_EVENT,
  executionEndedPattern,
  restartRejectedPattern,
  restartRequestedPattern,
} from '#core/event-patterns';
import { TASKS_PER_ID_BLOCK } from '#core/id-blocks';
import { API_ROUTES, STATIC_ROUTES } from '#http/routes';
import { TASK_STREAM_MAPPING } from '#store/table-schema';
import { buildStaticAssets } from '../console/static-assets.ts';
import { ENV, LAMBDA_FUNCTIONS, type LambdaFunctionId } from '../functions/catalog.ts';
import { METRICS_OUTPUT_VARIABLE } from '../functions/metrics.ts';
import {
  commandDocuments,
  renderRunCommand,
  type SsmCommandDocumentContent,
} from '../host-scripts/command-documents.ts';
import { PING_ROUTE, startApiGateway } from './api-gateway.ts';
import { startAwsEndpoint } from './aws-endpoint.ts';
import { loopbackSignInRoute } from './console-sign-in.ts';
import { addedDemoHostIds, demoControl, startDemoControl } from './demo-control.ts';
import {
  createDemoHost,
  type DemoHost,
  type DemoMode,
  demoMode,
  startDemoAgent,
  stopAllDemoHosts,
} from './demo-hosts.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import {
  pollTableStream,
  type StreamConsumer,
  type StreamMappingSettings,
  type StreamPoller,
} from './dynamodb-stream.ts';
import { ENDPOINTS_FILE, type LocalEndpoints } from './endpoints-file.ts';
import { freePort } from './free-port.ts';
import { loadOrCreateSigningKey, verifyLocalToken } from './jwt.ts';
import type { PoolStats } from './lambda-runtime/function-pool.ts';
import { startLambdaRuntime } from './lambda-runtime/runtime.ts';
import { LocalCloudWatchLogs } from './services/cloudwatch-logs.ts';
import { LocalEventBridge } from './services/eventbridge.ts';
import { ExecutionStore } from './services/execution-store.ts';
import { LocalSqs } from './services/sqs.ts';
import { LocalSsm } from './services/ssm.ts';
import { LocalStepFunctions, substituteDefinition } from './services/step-functions.ts';
import { ensureTables } from './tables.ts';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const REPO = resolve(__dirname, '..');
const TABLES = { taskTable: 'ocp-agent-restart-tasks', hostTable: 'ocp-agent-restart-hosts' };
const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:ocp-agent-restart`;
const BATCH_STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:ocp-agent-restart-batch`;
const EVENT_BUS_NAME = 'ocp-agent-restart-events';
const COMMAND_OUTPUT_LOG_GROUP = '/ocp-agent-restart/command-output';
const SWEEP_INTERVAL_MS = 60_000;
/** Under the state dir: the consoleAssets function's files, built at start. */
const CONSOLE_ASSETS_FOLDER = 'console-assets';
/** Local observers of the task stream (transition log, tests, benchmarks): a failure is logged, not retried. */
const OBSERVER_MAPPING: StreamMappingSettings = {
  batchSize: 1000,
  retryAttempts: 0,
  reportBatchItemFailures: false,
  bisectBatchOnError: false,
};
const QUEUE_NAMES = {
  rejected: 'ocp-agent-restart-rejected-requests',
  triggerDeadLetter: 'ocp-agent-restart-trigger-dead-letters',
  /**
   * Local mode only: the bus's "Restart Rejected" events, as a subscriber's rule with an SQS target
   * would deliver them; `npm run event` reads its request's outcome there.
   */
  rejectionEvents: 'ocp-agent-restart-rejection-events',
  /** As the stack's FailedBatches: the task stream's batches publish-task-events kept failing. */
  failedStreamBatches: 'ocp-agent-restart-failed-stream-batches',
};
const documentName = (key: string) => `OcpAgentRestart-${key}`;
/** Local function names: `ocp-agent-restart-<id>`, e.g. ocp-agent-restart-restartTrigger. */
export const functionName = (id: LambdaFunctionId) => `ocp-agent-restart-${id}`;
const functionArn = (id: LambdaFunctionId) =>
  `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName(id)}`;

// Kept in a module of its own so that readers (ocpctl) do not load the whole local system.
export { ENDPOINTS_FILE, type LocalEndpoints } from './endpoints-file.ts';

export interface LocalSystemOptions {
  /** Where DynamoDB's data, Step Functions' executions, the signing key and the demo hosts live. */
  stateDir: string;
  /** Keep DynamoDB's data and Step Functions' executions on disk (npm start) or in memory (tests). */
  persist: boolean;
  /** HTTP API port; 0 picks a free one. */
  apiPort: number;
  /** Demo hosts 1..demoHosts (at least 3 in npm start), and those `npm run demo -- add-host` added before. */
  demoHosts: number;
  demoMode?: DemoMode;
  /** Receives one line per task and subtask transition. */
  onTransition?: (line: string) => void;
  /** Extra consumers of the task table's stream. */
  streamConsumers?: StreamConsumer[];
  /**
   * Test-only: TimeoutSeconds of the named Task states, applied to local mode's in-memory copy of the
   * definition (the ASL file and the deployed machine are unchanged), so a timeout can be seen in seconds.
   */
  stateTimeoutOverrides?: Record<string, number>;
  /** How often the sweep runs, as the stack's schedule does (default every minute); 0: at start-up only. */
  sweepIntervalMs?: number;
  /**
   * How the functions run: "instances" (default) as Lambda runs them, each bundle in worker-thread
   * instances of its own (local/lambda-runtime/); "in-process", the handler modules imported into
   * this process, for tests that inject faults into the handlers' own SDK clients.
   */
  functionRuntime?: 'instances' | 'in-process';
  /** Most instances of a function at once (default DEFAULT_MAX_INSTANCES in local/lambda-runtime/runtime.ts). */
  maxInstances?: Partial<Record<LambdaFunctionId, number>>;
  /** Receives local mode's function lines: each instance's cold start. */
  onFunctionLog?: (line: string) => void;
}

/** The whole product on 127.0.0.1: same handlers, same ASL, same scripts and patterns, local endpoints. */
export interface LocalSystem {
  apiUrl: string;
  awsEndpointUrl: string;
  dynamodbEndpoint: string;
  tables: typeof TABLES;
  stateMachineArn: string;
  /** The fleet rollout's state machine (statemachine/batch-restart-agents.asl.json). */
  batchStateMachineArn: string;
  hosts: DemoHost[];
  hostRoot: string;
  signingKeyDir: string;
  stepFunctions: LocalStepFunctions;
  ssm: LocalSsm<SsmCommandDocumentContent>;
  eventBridge: LocalEventBridge;
  /** The product's custom bus (restart requests in, status changes and rejections out). */
  eventBusName: string;
  sqs: LocalSqs;
  /** Queue URLs, on the local endpoint (the SQS client sends to a queue's own URL). */
  queues: Record<keyof typeof QUEUE_NAMES, string>;
  /** Instance ids SSM treats as offline (not connected): commands to them are never delivered. */
  offlineInstances: Set<string>;
  /**
   * Instance ids whose role lacks the stack's CommandOutputPolicyArn policy: their agent streams no
   * command output to CloudWatch Logs, so only SSM's truncated inline output is left.
   */
  instancesWithoutOutputStreaming: Set<string>;
  /** Waits until the task stream has delivered everything written so far. */
  drainStream(): Promise<void>;
  /** Invokes a function as its triggers do (an instance of its own, JSON in and out): e.g. a sweep run now. */
  invoke(id: LambdaFunctionId, event?: unknown): Promise<unknown>;
  /** Cold starts, instances and invocations of each function (none with functionRuntime "in-process"). */
  functionStats(): Partial<Record<LambdaFunctionId, PoolStats>>;
  /**
   * Fault injection: SIGKILLs DynamoDB Local and, after `downtimeMs`, starts it again on the same port
   * over the same data (persist: true only).
   */
  restartDynamoDb(options?: { downtimeMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

type Handler = (event: unknown) => Promise<unknown>;

/** Starts local mode. Sets the process's AWS SDK environment: one local system per process. */
export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem> {
  mkdirSync(options.stateDir, { recursive: true });
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) {
      try {
        await step();
      } catch (error) {
        console.error('Local mode: a component did not stop cleanly:', error);
      }
    }
  };
  try {
    const dataDir = options.persist ? { dataDir: join(options.stateDir, 'dynamodb') } : {};
    let dynamodbLocal = await startDynamoDbLocal(dataDir);
    stops.push(() => dynamodbLocal.stop());
    const awsPort = await freePort();
    const awsEndpointUrl = `http://127.0.0.1:${awsPort}`;
    const documents = commandDocuments();
    const queues = Object.fromEntries(
      Object.entries(QUEUE_NAMES).map(([key, name]) => [key, `${awsEndpointUrl}/${ACCOUNT}/${name}`]),
    ) as Record<keyof typeof QUEUE_NAMES, string>;
    configureSdkEnvironment(
      dynamodbLocal.endpoint,
      awsEndpointUrl,
      documents.map((d) => d.key),
      queues,
      options.stateDir,
    );

    const dynamodb = new DynamoDBClient({});
    stops.push(() => dynamodb.destroy());
    await ensureTables(dynamodb, TABLES);

    const hostRoot = join(options.stateDir, 'hosts');
    const hostIds = new Set(Array.from({ length: options.demoHosts }, (_, i) => i + 1));
    for (const hostId of addedDemoHostIds(options.stateDir)) hostIds.add(hostId);
    const hosts = [...hostIds].map((hostId) =>
      createDemoHost(hostRoot, hostId, options.demoMode ? { mode: options.demoMode } : {}),
    );
    stops.push(() => stopAllDemoHosts(hostRoot));
    await registerHosts(dynamodb, hosts);
    await startAgents(hosts);

    await buildStaticAssets(join(options.stateDir, CONSOLE_ASSETS_FOLDER));
    let handlers: Record<LambdaFunctionId, Handler>;
    let functionStats: LocalSystem['functionStats'] = () => ({});
    if (options.functionRuntime === 'in-process') handlers = await importHandlers();
    else {
      const runtime = await startLambdaRuntime({
        functionName,
        functionArn,
        environment: Object.fromEntries(
          Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
        ),
        ...(options.maxInstances ? { maxInstances: options.maxInstances } : {}),
        // The functions behind the API's routes (startApiGateway below).
        interactiveFunctions: ['api', 'consoleAssets'],
        ...(options.onFunctionLog ? { log: options.onFunctionLog } : {}),
      });
      stops.push(() => runtime.stop());
      handlers = runtime.functions;
      functionStats = () => runtime.stats();
    }
    const offlineInstances = new Set<string>();
    const instancesWithoutOutputStreaming = new Set<string>();
    const hostsByInstance = new Map(hosts.map((host) => [host.instanceId, host]));

    const eventBridge = new LocalEventBridge({ account: ACCOUNT, region: REGION });
    stops.push(() => eventBridge.close());
    const subtaskDocuments = documents.filter((d) => d.key !== 'agentStatus').map((d) => documentName(d.key));
    eventBridge.addRule({
      name: 'command-finished',
      pattern: commandFinishedPattern(subtaskDocuments),
      target: (event) => handlers.commandCallback(event).then(() => undefined),
    });
    const sqs = new LocalSqs([
      queues.rejected,
      queues.triggerDeadLetter,
      queues.rejectionEvents,
      queues.failedStreamBatches,
    ]);
    eventBridge.addRule({
      name: 'restart-requested',
      eventBusName: EVENT_BUS_NAME,
      pattern: restartRequestedPattern(),
      target: (event) => handlers.restartTrigger(event).then(() => undefined),
      deadLetter: (event, error) =>
        sqs.send(
          queues.triggerDeadLetter,
          JSON.stringify({ event, error: error instanceof Error ? error.message : String(error) }),
        ),
    });
    eventBridge.addRule({
      name: 'rejection-events',
      eventBusName: EVENT_BUS_NAME,
      pattern: restartRejectedPattern(),
      target: async (event) => {
        sqs.send(queues.rejectionEvents, JSON.stringify(event));
      },
    });
    eventBridge.addRule({
      name: 'execution-ended',
      pattern: executionEndedPattern(STATE_MACHINE_ARN),
      target: (event) => handlers.reconcileExecution(event).then(() => undefined),
    });
    eventBridge.addRule({
      name: 'batch-execution-ended',
      pattern: executionEndedPattern(BATCH_STATE_MACHINE_ARN),
      target: (event) => handlers.finishBatch(event).then(() => undefined),
    });

    const ssm = new LocalSsm<SsmCommandDocumentContent>({
      documents: Object.fromEntries(documents.map((d) => [documentName(d.key), d.content])),
      renderRunCommand,
      instances: (instanceId) => {
        const host = hostsByInstance.get(instanceId);
        return (
          host && {
            workDir: host.hostDir,
            online: !offlineInstances.has(instanceId),
            streamsOutput: !instancesWithoutOutputStreaming.has(instanceId),
          }
        );
      },
      emit: (event) => eventBridge.publish(event),
      region: REGION,
      accountId: ACCOUNT,
    });
    stops.push(() => ssm.close());

    // Each placeholder filled as the stack fills it: a function's ARN, or the restart state machine's.
    const substitutions = {
      ...Object.fromEntries(
        (Object.keys(LAMBDA_FUNCTIONS) as LambdaFunctionId[]).flatMap((id) => {
          const placeholder = (LAMBDA_FUNCTIONS[id] as { aslPlaceholder?: string }).aslPlaceholder;
          return placeholder ? [[placeholder, functionArn(id)]] : [];
        }),
      ),
      RestartStateMachineArn: STATE_MACHINE_ARN,
    };
    const definitionOf = (file: string) =>
      substituteDefinition(readFileSync(join(REPO, 'statemachine', file), 'utf8'), substitutions);
    const definition = definitionOf('restart-agent.asl.json');
    const publishExecutionStatus = (detail: { executionArn: string }) =>
      eventBridge.publish({
        version: '0',
        id: randomUUID(),
        'detail-type': EXECUTION_STATUS_EVENT.detailType,
        source: EXECUTION_STATUS_EVENT.source,
        account: ACCOUNT,
        time: new Date().toISOString(),
        region: REGION,
        resources: [detail.executionArn],
        detail,
      } as EventBridgeEvent<string, unknown>);
    const stepFunctions = new LocalStepFunctions({
      stateMachineArn: STATE_MACHINE_ARN,
      definition: withStateTimeouts(definition, options.stateTimeoutOverrides ?? {}),
      ...(options.persist ? { store: new ExecutionStore(join(options.stateDir, 'step-functions')) } : {}),
      lambdaFunctions: Object.fromEntries(
        (Object.keys(handlers) as LambdaFunctionId[]).map((id) => [functionArn(id), handlers[id]]),
      ),
      onExecutionStatusChange: publishExecutionStatus,
    });
    stops.push(() => stepFunctions.shutdown());
    // The fleet rollout: one Step Functions service with the restart machine, whose executions its
    // Distributed Map starts (states:startExecution.sync:2).
    const batchStepFunctions = new LocalStepFunctions({
      stateMachineArn: BATCH_STATE_MACHINE_ARN,
      definition: definitionOf('batch-restart-agents.asl.json'),
      stateMachines: stepFunctions.stateMachines,
      ...(options.persist
        ? { store: new ExecutionStore(join(options.stateDir, 'step-functions-batch')) }
        : {}),
      lambdaFunctions: Object.fromEntries(
        (Object.keys(handlers) as LambdaFunctionId[]).map((id) => [functionArn(id), handlers[id]]),
      ),
      onExecutionStatusChange: publishExecutionStatus,
    });
    stops.push(() => batchStepFunctions.shutdown());

    const endpoint = await startAwsEndpoint({
      port: awsPort,
      services: {
        AWSStepFunctions: stepFunctions,
        AmazonSSM: ssm,
        AWSEvents: eventBridge,
        AmazonSQS: sqs,
        Logs_20140328: new LocalCloudWatchLogs((commandId, instanceId) =>
          ssm.streamedOutput(commandId, instanceId),
        ),
      },
      lambdaFunctions: Object.fromEntries(
        (Object.keys(handlers) as LambdaFunctionId[]).map((id) => [functionName(id), handlers[id]]),
      ),
    });
    stops.push(() => endpoint.close());

    // The stack's event source mapping: the task table's stream feeds the status-change publisher.
    // Local observers read the stream through a mapping of their own, so they see each record once.
    const observers: StreamConsumer[] = [...(options.streamConsumers ?? [])];
    if (options.onTransition) {
      const { transitionLog } = await import('./transition-log.ts');
      observers.push(transitionLog(options.onTransition));
    }
    const poller: StreamPoller = await pollTableStream(dynamodb, TABLES.taskTable, [
      {
        functionArn: functionArn('publishTaskEvents'),
        consumer: handlers.publishTaskEvents as StreamConsumer,
        settings: TASK_STREAM_MAPPING,
        onFailure: (record) => {
          sqs.send(queues.failedStreamBatches, JSON.stringify(record));
        },
      },
      ...(observers.length > 0
        ? [
            {
              functionArn: 'local-stream-observers',
              consumer: async (event: DynamoDBStreamEvent) => {
                for (const observer of observers) await observer(event);
              },
              settings: OBSERVER_MAPPING,
            },
          ]
        : []),
    ]);
    stops.push(() => poller.stop());

    // Tasks left RUNNING by an earlier run whose executions died with it end FAILED, freeing their hosts;
    // nothing that run handed to Step Functions is still on its way.
    const now = new Date().toISOString();
    await handlers.sweepTasks({ handoversSettledBefore: now, statusEventsDueBefore: now });
    // And periodically, as the stack's schedule does (every minute).
    const sweepIntervalMs = options.sweepIntervalMs ?? SWEEP_INTERVAL_MS;
    if (sweepIntervalMs > 0) {
      const sweep = setInterval(() => {
        handlers.sweepTasks(undefined).catch((error) => console.error('Sweep failed:', error));
      }, sweepIntervalMs);
      sweep.unref();
      stops.push(() => clearInterval(sweep));
    }

    const signingKeyDir = options.stateDir;
    const signingKey = await loadOrCreateSigningKey(signingKeyDir);
    const api = await startApiGateway({
      port: options.apiPort,
      handler: handlers.api as never,
      verifyToken: (token) => verifyLocalToken(token, signingKey) as Promise<Record<string, unknown>>,
      routes: API_ROUTES,
      publicRoutes: Object.values(STATIC_ROUTES).map((route) => ({
        ...route,
        handler: handlers.consoleAssets as never,
      })),
      extraRoutes: [PING_ROUTE, loopbackSignInRoute(signingKey)],
    });
    stops.push(() => api.close());
    // `npm run demo`: adds demo hosts and sets their modes while local mode runs.
    const control = await startDemoControl(
      options.stateDir,
      demoControl(options.stateDir, {
        hostRoot,
        hosts,
        admit: async (host) => {
          hostsByInstance.set(host.instanceId, host);
          await registerHosts(dynamodb, [host]);
        },
      }),
    );
    stops.push(() => control.close());
    writeFileSync(
      join(options.stateDir, ENDPOINTS_FILE),
      `${JSON.stringify(
        {
          apiUrl: api.url,
          awsEndpointUrl,
          dynamodbEndpoint: dynamodbLocal.endpoint,
          eventBusName: EVENT_BUS_NAME,
          taskTable: TABLES.taskTable,
          rejectionEventsQueueUrl: queues.rejectionEvents,
        } satisfies LocalEndpoints,
        null,
        2,
      )}\n`,
    );

    return {
      apiUrl: api.url,
      awsEndpointUrl,
      dynamodbEndpoint: dynamodbLocal.endpoint,
      tables: TABLES,
      stateMachineArn: STATE_MACHINE_ARN,
      batchStateMachineArn: BATCH_STATE_MACHINE_ARN,
      hosts,
      hostRoot,
      signingKeyDir,
      stepFunctions,
      ssm,
      eventBridge,
      eventBusName: EVENT_BUS_NAME,
      sqs,
      queues,
      offlineInstances,
      instancesWithoutOutputStreaming,
      drainStream: () => poller.drain(),
      invoke: (id, event) => handlers[id](event),
      functionStats: () => functionStats(),
      restartDynamoDb: async ({ downtimeMs = 0 } = {}) => {
        if (!options.persist)
          throw new Error('restartDynamoDb needs persist: true (in-memory data would be lost)');
        const port = Number(new URL(dynamodbLocal.endpoint).port);
        const exited = new Promise((done) => dynamodbLocal.process.once('exit', done));
        dynamodbLocal.process.kill('SIGKILL');
        await exited;
        await new Promise((done) => setTimeout(done, downtimeMs));
        dynamodbLocal = await startDynamoDbLocal({ ...dataDir, port });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The handlers reach local services exactly as they reach AWS: through the standard SDK variables. */
function configureSdkEnvironment(
  dynamodbEndpoint: string,
  awsEndpoint: string,
  documentKeys: string[],
  queues: Record<keyof typeof QUEUE_NAMES, string>,
  stateDir: string,
): void {
  Object.assign(process.env, {
    [ENV.consoleAssetsDir]: join(stateDir, CONSOLE_ASSETS_FOLDER),
    [ENV.consoleConfig]: JSON.stringify({
      permissionsClaim: 'cognito:groups',
      loopbackSignIn: true,
    } satisfies ConsoleConfig),
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: dynamodbEndpoint,
    AWS_ENDPOINT_URL_SFN: awsEndpoint,
    AWS_ENDPOINT_URL_SSM: awsEndpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: awsEndpoint,
    [ENV.taskTable]: TABLES.taskTable,
    [ENV.hostTable]: TABLES.hostTable,
    [ENV.stateMachineArn]: STATE_MACHINE_ARN,
    [ENV.batchStateMachineArn]: BATCH_STATE_MACHINE_ARN,
    [ENV.commandDocuments]: JSON.stringify(
      Object.fromEntries(documentKeys.map((key) => [key, documentName(key)])),
    ),
    [ENV.permissionsClaim]: 'cognito:groups',
    // A test may take ids one task at a time, so that each restart request calls the counter.
    [ENV.taskIdBlockTasks]: process.env[ENV.taskIdBlockTasks] ?? String(TASKS_PER_ID_BLOCK),
    [ENV.eventBusName]: EVENT_BUS_NAME,
    [ENV.rejectedQueueUrl]: queues.rejected,
    AWS_ENDPOINT_URL_SQS: awsEndpoint,
    AWS_ENDPOINT_URL_LAMBDA: awsEndpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: awsEndpoint,
    [ENV.commandOutputLogGroup]: COMMAND_OUTPUT_LOG_GROUP,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    // No X-Ray daemon here; metrics as one readable line each instead of EMF JSON.
    POWERTOOLS_TRACE_ENABLED: 'false',
    [METRICS_OUTPUT_VARIABLE]: process.env[METRICS_OUTPUT_VARIABLE] ?? 'readable',
  });
}

async function importHandlers(): Promise<Record<LambdaFunctionId, Handler>> {
  const entries = await Promise.all(
    (Object.keys(LAMBDA_FUNCTIONS) as LambdaFunctionId[]).map(async (id) => {
      const module = (await import(join(REPO, LAMBDA_FUNCTIONS[id].entry))) as { handler: Handler };
      return [id, module.handler] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<LambdaFunctionId, Handler>;
}

async function registerHosts(dynamodb: DynamoDBClient, hosts: DemoHost[]): Promise<void> {
  for (let i = 0; i < hosts.length; i += 25) {
    await dynamodb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [TABLES.hostTable]: hosts.slice(i, i + 25).map((host) => ({
            PutRequest: {
              Item: marshall({
                hostId: host.hostId,
                instanceId: host.instanceId,
                agentHome: host.agentHome,
                hostname: `demo-host-${host.hostId}`,
              }),
            },
          })),
        },
      }),
    );
  }
}

async function startAgents(hosts: DemoHost[]): Promise<void> {
  const parallel = 8;
  for (let i = 0; i < hosts.length; i += parallel) {
    await Promise.all(
      hosts.slice(i, i + parallel).map((host) =>
        // A host left in mode "broken" (`npm run demo -- mode <id> broken`) starts with its agent down.
        startDemoAgent(host).catch((error: unknown) => {
          if (demoMode(host) !== 'broken') throw error;
        }),
      ),
    );
  }
}

/** A copy of the definition with the TimeoutSeconds of some top-level Task states replaced (tests only). */
function withStateTimeouts(definition: object, overrides: Record<string, number>): object {
  const copy = structuredClone(definition) as {
    States: Record<string, { Type: string; TimeoutSeconds?: number }>;
  };
  for (const [name, seconds] of Object.entries(overrides)) {
    const state = copy.States[name];
    if (state?.Type !== 'Task') throw new Error(`stateTimeoutOverrides: no Task state named "${name}"`);
    if (!Number.isInteger(seconds) || seconds < 1)
      throw new Error(`stateTimeoutOverrides: ${name} must be whole seconds ≥ 1`);
    state.TimeoutSeconds = seconds;
  }
  return copy;
}
