/**
 * The product's Lambda functions: entry files for the stack, and the names local mode resolves
 * a Task state's FunctionName to. ASL placeholders name the ARN each state invokes. A function's
 * timeout and memory (FUNCTION_DEFAULTS unless it sets them) are read by the stack and local mode;
 * `environment` names the variables of ENV the stack gives it (its grants add them; the stack test
 * checks they are exactly these), and local mode gives its instances those and no other of ENV.
 */
export const LAMBDA_FUNCTIONS = {
  api: {
    entry: 'functions/api.ts',
    environment: [
      'taskTable',
      'hostTable',
      'stateMachineArn',
      'batchStateMachineArn',
      'commandDocuments',
      'permissionsClaim',
      'taskIdBlockTasks',
      'commandOutputLogGroup',
    ],
    description: 'OCP-compatible HTTP API: restart an agent, read tasks',
    // Below HTTP API's 30 s integration limit; the agent status waits up to 20 s for its command.
    timeoutSeconds: 29,
    memoryMb: 512,
  },
  runSubtask: {
    entry: 'functions/run-subtask.ts',
    environment: ['taskTable', 'commandDocuments', 'commandOutputLogGroup'],
    description: 'Starts one subtask attempt: records it and sends its SSM command',
    aslPlaceholder: 'RunSubtaskFunctionArn',
  },
  finishTask: {
    entry: 'functions/finish-task.ts',
    environment: ['taskTable'],
    description: 'Ends a successful task and releases its host lock',
    aslPlaceholder: 'FinishTaskFunctionArn',
  },
  reconcileExecution: {
    entry: 'functions/reconcile-execution.ts',
    environment: ['taskTable', 'commandOutputLogGroup'],
    description:
      'Ends a task as its execution ended (failure path, stopped or timed-out runs) and releases its lock',
  },
  sweepTasks: {
    entry: 'functions/sweep-tasks.ts',
    environment: ['taskTable', 'commandOutputLogGroup'],
    description:
      'Scheduled safety net, every minute: ends tasks whose execution ended unnoticed, completes subtasks whose command did',
    timeoutSeconds: 300,
  },
  restartTrigger: {
    entry: 'functions/restart-trigger.ts',
    environment: [
      'taskTable',
      'hostTable',
      'stateMachineArn',
      'batchStateMachineArn',
      'eventBusName',
      'rejectedQueueUrl',
    ],
    description:
      'Starts restarts from EventBridge events (one host, or a fleet as a batch) and schedule runs (a batch each); rejects bad requests visibly',
  },
  publishTaskEvents: {
    entry: 'functions/publish-task-events.ts',
    environment: ['eventBusName'],
    description: 'Publishes every task status change from the task table stream to the event bus',
  },
  commandCallback: {
    entry: 'functions/command-callback.ts',
    environment: ['taskTable', 'commandOutputLogGroup'],
    description: 'Records a finished SSM command and completes its workflow step',
  },
  admitHost: {
    entry: 'functions/admit-host.ts',
    environment: ['taskTable', 'hostTable', 'stateMachineArn'],
    description:
      'Fleet rollout: starts a host’s restart task, or records why it does not start (threshold, cancel, busy host)',
    aslPlaceholder: 'AdmitHostFunctionArn',
  },
  recordHostOutcome: {
    entry: 'functions/record-host-outcome.ts',
    environment: ['taskTable', 'hostTable', 'stateMachineArn', 'commandOutputLogGroup', 'commandDocuments'],
    description: 'Fleet rollout: records how a host’s restart ended, after its health check',
    aslPlaceholder: 'RecordHostOutcomeFunctionArn',
    // The health check waits up to 20 s for the agent status command.
    timeoutSeconds: 60,
  },
  finishBatch: {
    entry: 'functions/finish-batch.ts',
    environment: ['taskTable', 'hostTable', 'stateMachineArn', 'commandOutputLogGroup'],
    description: 'Fleet rollout: ends the batch from its hosts’ records',
    aslPlaceholder: 'FinishBatchFunctionArn',
  },
  consoleAssets: {
    entry: 'functions/console-assets.ts',
    environment: ['consoleAssetsDir', 'consoleConfig'],
    description: 'Serves the web console’s files and the OpenAPI document, without authentication',
    timeoutSeconds: 5,
  },
} as const;

export type LambdaFunctionId = keyof typeof LAMBDA_FUNCTIONS;

/** Timeout and memory of a function that does not set its own. */
export const FUNCTION_DEFAULTS = { timeoutSeconds: 30, memoryMb: 256 } as const;

/** What a function runs with, on AWS and in local mode. */
export interface FunctionSettings {
  entry: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** The names (values of ENV) of the product's variables the function is given. */
  environment: string[];
}

export function functionSettings(id: LambdaFunctionId): FunctionSettings {
  const definition: {
    entry: string;
    timeoutSeconds?: number;
    memoryMb?: number;
    environment?: readonly (keyof typeof ENV)[];
  } = LAMBDA_FUNCTIONS[id];
  return {
    entry: definition.entry,
    timeoutSeconds: definition.timeoutSeconds ?? FUNCTION_DEFAULTS.timeoutSeconds,
    memoryMb: definition.memoryMb ?? FUNCTION_DEFAULTS.memoryMb,
    environment: (definition.environment ?? []).map((key) => ENV[key]),
  };
}

/** Environment variables the functions read; the stack and local mode set them. */
export const ENV = {
  taskTable: 'TASK_TABLE_NAME',
  hostTable: 'HOST_TABLE_NAME',
  stateMachineArn: 'STATE_MACHINE_ARN',
  batchStateMachineArn: 'BATCH_STATE_MACHINE_ARN',
  /** JSON object: command document key (subtask key or "agentStatus") to SSM document name. */
  commandDocuments: 'COMMAND_DOCUMENTS',
  /** The product's custom event bus: restart requests in, task status changes and rejections out. */
  eventBusName: 'EVENT_BUS_NAME',
  /** SQS queue receiving rejected restart requests with their reason. */
  rejectedQueueUrl: 'REJECTED_QUEUE_URL',
  /** CloudWatch log group SSM writes the commands' full output to. */
  commandOutputLogGroup: 'COMMAND_OUTPUT_LOG_GROUP',
  /** JWT claim holding the caller's OCP permissions (default cognito:groups). */
  permissionsClaim: 'PERMISSIONS_CLAIM',
  /** How many tasks' ids an api instance takes from the counter at once (1: ids in creation order). */
  taskIdBlockTasks: 'TASK_ID_BLOCK_TASKS',
  /** Directory of the console's built files and openapi.json. */
  consoleAssetsDir: 'CONSOLE_ASSETS_DIR',
  /** JSON ConsoleConfig (core/console.ts): how the console signs operators in. */
  consoleConfig: 'CONSOLE_CONFIG',
} as const;
