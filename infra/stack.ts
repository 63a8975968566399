import { Aws, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { API_ROUTES } from '#http/routes';
import type { CommandDocument } from '../host-scripts/command-documents.ts';
import { AgentCommands } from './constructs/agent-commands.ts';
import { OcpApi } from './constructs/api.ts';
import { BatchRollout } from './constructs/batch-rollout.ts';
import { CommandCallback } from './constructs/command-callback.ts';
import { ExecutionReconciler } from './constructs/execution-reconciler.ts';
import type { ProjectFunction } from './constructs/lambda-defaults.ts';
import { Operations, type WatchedQueue } from './constructs/operations.ts';
import { OperatorIdentity } from './constructs/operator-identity.ts';
import { RestartTriggers } from './constructs/restart-triggers.ts';
import { RestartWorkflow } from './constructs/restart-workflow.ts';
import { TaskEvents } from './constructs/task-events.ts';
import { TaskStore } from './constructs/task-store.ts';
import type { DeploymentSettings } from './settings.ts';

const TASK_API_HINT = `GET ${API_ROUTES.listTasks.path}?status=RUNNING`;

export interface OcpAgentRestartStackProps extends StackProps {
  readonly settings: DeploymentSettings;
  /** The SSM Command documents to create (host-scripts/command-documents.ts). */
  readonly commandDocuments: readonly CommandDocument[];
}

/**
 * Restart the OCP agent on a host: the API, the workflow, its host commands and its records, the
 * product's event bus and the restarts triggered by events and schedules.
 */
export class OcpAgentRestartStack extends Stack {
  readonly store: TaskStore;
  readonly commands: AgentCommands;
  readonly workflow: RestartWorkflow;
  readonly rollout: BatchRollout;
  readonly commandCallback: CommandCallback;
  readonly executionReconciler: ExecutionReconciler;
  readonly taskEvents: TaskEvents;
  readonly restartTriggers: RestartTriggers;
  readonly identity: OperatorIdentity;
  readonly api: OcpApi;
  readonly operations: Operations;

  constructor(scope: Construct, id: string, props: OcpAgentRestartStackProps) {
    super(scope, id, props);
    const { settings } = props;

    const store = new TaskStore(this, 'TaskStore');
    const commands = new AgentCommands(this, 'AgentCommands', {
      documents: props.commandDocuments,
      managedInstanceTag: settings.managedInstanceTag,
    });
    const workflow = new RestartWorkflow(this, 'RestartWorkflow', { store, commands });
    const rollout = new BatchRollout(this, 'BatchRollout', { store, commands, restart: workflow });
    const taskEvents = new TaskEvents(this, 'TaskEvents', {
      store,
      publisherAccounts: settings.eventPublisherAccounts,
    });
    const identity = new OperatorIdentity(this, 'OperatorIdentity', {
      ...(settings.oidc ? { oidc: settings.oidc } : {}),
      loginDomainPrefix:
        settings.loginDomainPrefix ?? Fn.join('-', [this.stackName.toLowerCase(), Aws.ACCOUNT_ID]),
    });
    const api = new OcpApi(this, 'Api', {
      store,
      commands,
      workflow,
      rollout,
      authorizer: identity.authorizer,
      identity,
      permissionsClaim: settings.permissionsClaim,
      throttle: settings.apiThrottle,
    });
    this.commandCallback = new CommandCallback(this, 'CommandCallback', { store, commands, workflow });
    this.executionReconciler = new ExecutionReconciler(this, 'ExecutionReconciler', {
      store,
      commands,
      workflow,
    });
    this.restartTriggers = new RestartTriggers(this, 'RestartTriggers', {
      store,
      workflow,
      rollout,
      events: taskEvents,
      schedules: settings.restartSchedules,
    });
    this.store = store;
    this.commands = commands;
    this.workflow = workflow;
    this.rollout = rollout;
    this.taskEvents = taskEvents;
    this.identity = identity;
    this.api = api;
    // Last: it alarms on every function and queue created above.
    this.operations = new Operations(this, 'Operations', {
      settings: settings.alarms,
      api,
      restartStateMachine: workflow.stateMachine,
      batchStateMachine: rollout.stateMachine,
      queues: this.watchedQueues(),
      logGroups: {
        restartWorkflow: workflow.logGroup.logGroupName,
        batchRollout: rollout.logGroup.logGroupName,
        apiAccess: (api.node.findChild('AccessLogs') as LogGroup).logGroupName,
      },
    });

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL of the OCP-compatible API' });
    new CfnOutput(this, 'ConsoleUrl', {
      value: api.consoleUrl,
      description: 'The web task center (signs in through the hosted login, or with a pasted token)',
    });
    if (identity.userPool && identity.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', {
        value: identity.userPool.userPoolId,
        description: 'Cognito user pool of the API’s operators (add users to its permission groups)',
      });
      new CfnOutput(this, 'UserPoolClientId', {
        value: identity.userPoolClient.userPoolClientId,
        description: 'App client to sign in with (the API’s token audience)',
      });
    }
    new CfnOutput(this, 'TaskTableName', { value: store.taskTable.tableName });
    new CfnOutput(this, 'HostTableName', {
      value: store.hostTable.tableName,
      description: 'Register a host here: { hostId (N), instanceId (S), agentHome (S) }',
    });
    new CfnOutput(this, 'StateMachineArn', { value: workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'BatchStateMachineArn', {
      value: rollout.stateMachine.stateMachineArn,
      description: 'The fleet rollout (batchRestartAgents): its Map Runs show each host’s restart execution',
    });
    new CfnOutput(this, 'EventBusName', {
      value: taskEvents.bus.eventBusName,
      description: 'Send "OCP Agent Restart Requested" events here; task status changes are published here',
    });
    new CfnOutput(this, 'EventBusArn', {
      value: taskEvents.bus.eventBusArn,
      description:
        'The eventPublisherAccounts send "OCP Agent Restart Requested" events to the bus by this ARN (PutEvents EventBusName, or a rule target)',
    });
    new CfnOutput(this, 'RejectedRequestsQueueUrl', {
      value: this.restartTriggers.rejectedRequests.queueUrl,
      description: 'Restart requests the product refused, with the reason',
    });
    new CfnOutput(this, 'CommandOutputLogGroup', {
      value: commands.outputLogGroup.logGroupName,
      description: 'The SSM Agent writes the commands’ full output here (see CommandOutputPolicyArn)',
    });
    new CfnOutput(this, 'CommandOutputPolicyArn', {
      value: commands.instanceOutputPolicy.managedPolicyArn,
      description:
        'Attach this policy to each host’s instance role, beside AmazonSSMManagedInstanceCore: without it the SSM Agent cannot write the commands’ full output, and a long subtask log is cut',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.operations.topic.topicArn,
      description:
        'Every alarm notifies this SNS topic (encrypted); subscribe your on-call to it (alarmEmail subscribes an address)',
    });
    new CfnOutput(this, 'DashboardName', { value: this.operations.dashboard.dashboardName });
    new CfnOutput(this, 'ManagedInstanceTag', {
      value: `${settings.managedInstanceTag.key}=${settings.managedInstanceTag.value}`,
      description: 'Tag an instance with this (key=value) before registering it',
    });
  }

  /** What each of the product's queues holds, for its alarm: where to look and what to do. */
  private watchedQueues(): WatchedQueue[] {
    const logsOf = (fn: ProjectFunction) =>
      `the ${fn.functionId} function's log group ${fn.logGroup.logGroupName}`;
    const triggers = this.restartTriggers;
    return [
      {
        queue: triggers.rejectedRequests,
        meaning:
          'restart requests (events on the product bus, schedule runs) the product refused, each with its reason',
        action:
          'Read the messages: each names the request and why it was refused (unknown host, invalid field, host busy). Fix the sender or the host registry; nothing is retried. Purge the queue once read.',
      },
      {
        queue: triggers.trigger.deadLetterQueue,
        meaning:
          'restart requests, schedule runs or scheduled host restarts that restart-trigger kept failing on (after EventBridge, Lambda or SQS retries)',
        action: `Look for the errors in ${logsOf(triggers.handler)}; once fixed, send the requests again (the event's id keeps a repeat from starting a second task).`,
      },
      {
        queue: this.taskEvents.failedBatches,
        meaning: 'task table stream batches whose status changes could not be published to the event bus',
        action: `Subscribers missed those status changes (the tasks themselves are fine: ${TASK_API_HINT}). See ${logsOf(this.taskEvents.publisher)}.`,
      },
      {
        queue: this.commandCallback.trigger.deadLetterQueue,
        meaning: 'SSM command-finished events command-callback could not record',
        action: `The sweep records those commands' outcomes within minutes; if the tasks stay RUNNING (${TASK_API_HINT}) see ${logsOf(this.commandCallback.handler)}.`,
      },
      {
        queue: this.executionReconciler.trigger.deadLetterQueue,
        meaning: 'restart execution-ended events reconcile-execution could not record',
        action: `The sweep ends those tasks within minutes; if they stay RUNNING (${TASK_API_HINT}) see ${logsOf(this.executionReconciler.handler)}.`,
      },
      {
        queue: this.executionReconciler.sweepSchedule.deadLetterQueue,
        meaning:
          'runs of the every-minute sweep that failed: the safety net for lost status events is not running',
        action: `See ${logsOf(this.executionReconciler.sweeper)}; the TaskStuckRunning alarm fires too if it stays down.`,
      },
      {
        queue: this.rollout.executionEnded.deadLetterQueue,
        meaning:
          'fleet rollout execution-ended events finish-batch could not record: those batches may show RUNNING',
        action: `See ${logsOf(this.rollout.finishBatch)} and the batch with GET ${API_ROUTES.getTask.path}.`,
      },
    ];
  }
}
