/**
 * The product's Lambda functions: entry files for the stack, and the names local mode resolves
 * a Task state's FunctionName to. ASL placeholders name the ARN each state invokes.
 */
export const LAMBDA_FUNCTIONS = {
  api: { entry: 'functions/api.ts', description: 'OCP-compatible HTTP API: restart an agent, read tasks' },
  runSubtask: {
    entry: 'functions/run-subtask.ts',
    description: 'Starts one subtask attempt: records it and sends its SSM command',
    aslPlaceholder: 'RunSubtaskFunctionArn',
  },
  finishTask: {
    entry: 'functions/finish-task.ts',
    description: 'Ends a successful task and releases its host lock',
    aslPlaceholder: 'FinishTaskFunctionArn',
  },
  reconcileExecution: {
    entry: 'functions/reconcile-execution.ts',
    description:
      'Ends a task as its execution ended (failure path, stopped or timed-out runs) and releases its lock',
  },
  sweepTasks: {
    entry: 'functions/sweep-tasks.ts',
    description:
      'Scheduled safety net, every minute: ends tasks whose execution ended unnoticed, completes subtasks whose command did',
  },
  restartTrigger: {
    entry: 'functions/restart-trigger.ts',
    description:
      'Starts restarts from EventBridge events (one host, or a fleet as a batch) and schedule runs (a batch each); rejects bad requests visibly',
  },
  publishTaskEvents: {
    entry: 'functions/publish-task-events.ts',
    description: 'Publishes every task status change from the task table stream to the event bus',
  },
  commandCallback: {
    entry: 'functions/command-callback.ts',
    description: 'Records a finished SSM command and completes its workflow step',
  },
  admitHost: {
    entry: 'functions/admit-host.ts',
    description:
      'Fleet rollout: starts a host’s restart task, or records why it does not start (threshold, cancel, busy host)',
    aslPlaceholder: 'AdmitHostFunctionArn',
  },
  recordHostOutcome: {
    entry: 'functions/record-host-outcome.ts',
    description: 'Fleet rollout: records how a host’s restart ended, after its health check',
    aslPlaceholder: 'RecordHostOutcomeFunctionArn',
  },
  finishBatch: {
    entry: 'functions/finish-batch.ts',
    description: 'Fleet rollout: ends the batch from its hosts’ records',
    aslPlaceholder: 'FinishBatchFunctionArn',
  },
  consoleAssets: {
    entry: 'functions/console-assets.ts',
    description: 'Serves the web console’s files and the OpenAPI document, without authentication',
  },
} as const;

export type LambdaFunctionId = keyof typeof LAMBDA_FUNCTIONS;

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
  /** Directory of the console's built files and openapi.json. */
  consoleAssetsDir: 'CONSOLE_ASSETS_DIR',
  /** JSON ConsoleConfig (core/console.ts): how the console signs operators in. */
  consoleConfig: 'CONSOLE_CONFIG',
} as const;
