import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { CommandDocument } from '../host-scripts/command-documents.ts';
import { AgentCommands } from './constructs/agent-commands.ts';
import { OcpApi } from './constructs/api.ts';
import { BatchRollout } from './constructs/batch-rollout.ts';
import { CommandCallback } from './constructs/command-callback.ts';
import { ExecutionReconciler } from './constructs/execution-reconciler.ts';
import { OperatorIdentity } from './constructs/operator-identity.ts';
import { RestartTriggers } from './constructs/restart-triggers.ts';
import { RestartWorkflow } from './constructs/restart-workflow.ts';
import { TaskEvents } from './constructs/task-events.ts';
import { TaskStore } from './constructs/task-store.ts';
import type { DeploymentSettings } from './settings.ts';

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
    });
    const api = new OcpApi(this, 'Api', {
      store,
      commands,
      workflow,
      rollout,
      authorizer: identity.authorizer,
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

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL of the OCP-compatible API' });
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
    new CfnOutput(this, 'ManagedInstanceTag', {
      value: `${settings.managedInstanceTag.key}=${settings.managedInstanceTag.value}`,
      description: 'Tag an instance with this (key=value) before registering it',
    });
  }
}
