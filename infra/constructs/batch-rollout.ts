import { readFileSync } from 'node:fs';
import { ArnFormat, Fn, Names, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../functions/catalog.ts';
import { executionEndedPattern } from '../../functions/core/event-patterns.ts';
import { repoPath } from '../paths.ts';
import type { AgentCommands } from './agent-commands.ts';
import { definitionSubstitutions } from './definition-substitutions.ts';
import { EventTrigger } from './event-trigger.ts';
import { LOG_GROUP_DEFAULTS, ProjectFunction, WILDCARD_RESOURCE_FINDING } from './lambda-defaults.ts';
import { flattenReference, type RestartWorkflow } from './restart-workflow.ts';
import type { TaskStore } from './task-store.ts';

/** The fleet rollout's definition; CDK fills its ${Placeholders}, as local mode does. */
export const BATCH_DEFINITION_FILE = 'statemachine/batch-restart-agents.asl.json';

export interface BatchRolloutProps {
  readonly store: TaskStore;
  readonly commands: AgentCommands;
  readonly restart: RestartWorkflow;
}

/**
 * "Batch restart OCP agent": a Standard state machine whose Distributed Map runs each host's restart
 * as a child execution of the restart workflow, gated by the admit-host function, each outcome
 * recorded (after a health check) by record-host-outcome, the batch ended by finish-batch.
 */
export class BatchRollout extends Construct {
  readonly stateMachine: StateMachine;
  /** Its name, known at synth time. */
  readonly stateMachineName: string;
  readonly logGroup: LogGroup;
  readonly admitHost: ProjectFunction;
  readonly recordHostOutcome: ProjectFunction;
  readonly finishBatch: ProjectFunction;
  /** Ends a batch whose execution ended before its last state. */
  readonly executionEnded: EventTrigger;

  constructor(scope: Construct, id: string, props: BatchRolloutProps) {
    super(scope, id);
    const { store, commands, restart } = props;
    const stack = Stack.of(this);

    this.admitHost = new ProjectFunction(this, 'AdmitHost', { functionId: 'admitHost' });
    this.recordHostOutcome = new ProjectFunction(this, 'RecordHostOutcome', {
      functionId: 'recordHostOutcome',
    });
    this.finishBatch = new ProjectFunction(this, 'FinishBatch', { functionId: 'finishBatch' });
    for (const fn of [this.admitHost, this.recordHostOutcome, this.finishBatch]) {
      store.grantTaskTable(fn);
      store.grantBulkTaskItems(fn);
      store.grantHostLookup(fn);
      // A host's task is named after, and may be ended from, its restart execution.
      fn.addEnvironment(ENV.stateMachineArn, restart.stateMachine.stateMachineArn);
      restart.grantControlExecutions(fn);
    }
    for (const fn of [this.recordHostOutcome, this.finishBatch]) {
      // Ending a host's task as its execution ended asks SSM why a subtask did not finish.
      commands.useOutputLogGroup(fn);
      commands.grantDiagnoseCommands(fn);
      commands.grantCancelCommands(fn);
    }
    commands.grantSendCommand(this.recordHostOutcome, ['agentStatus']);
    commands.grantReadInvocations(this.recordHostOutcome);

    const invoked = {
      admitHost: this.admitHost,
      recordHostOutcome: this.recordHostOutcome,
      finishBatch: this.finishBatch,
    };
    const definition = readFileSync(repoPath(BATCH_DEFINITION_FILE), 'utf8');
    this.logGroup = new LogGroup(this, 'Logs', {
      ...LOG_GROUP_DEFAULTS,
      // As the restart workflow's: a name no earlier, retained group can hold.
      logGroupName: Fn.join('-', [
        `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}`,
        Fn.select(2, Fn.split('/', stack.stackId)),
      ]),
    });
    // Named at synth time, so that its role can name its own ARN (the Map starts its children through
    // it) without a reference cycle. The state machine is never retained, so a redeploy may reuse it.
    const stateMachineName = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    this.stateMachineName = stateMachineName;
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(definition),
      definitionSubstitutions: definitionSubstitutions(BATCH_DEFINITION_FILE, definition, invoked, {
        RestartStateMachineArn: restart.stateMachine.stateMachineArn,
      }),
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // An execution stopped, failed or timed out before its last state leaves its batch RUNNING:
    // finish-batch ends it from its status event (and ignores the end of one that ran its last state).
    this.executionEnded = new EventTrigger(this, 'ExecutionEnded', {
      description: 'An execution of the ocp-agent-restart batch rollout ended',
      on: { pattern: executionEndedPattern(this.stateMachine.stateMachineArn) },
      target: this.finishBatch,
    });

    const arn = (resource: string, resourceName: string) =>
      stack.formatArn({
        service: 'states',
        resource,
        resourceName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const restartName = flattenReference(stack.resolve(restart.stateMachine.stateMachineName));
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: Object.values(invoked).map((fn) => fn.functionArn),
      }),
    );
    // The Distributed Map's child executions (AWS: "IAM policies for using Distributed Map states").
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [arn('stateMachine', stateMachineName)],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [arn('execution', `${stateMachineName}/*`)],
      }),
    );
    // Each host's restart as a nested execution run to its end (startExecution.sync:2; AWS: "IAM
    // policies for nested Step Functions calls", synchronous).
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [restart.stateMachine.stateMachineArn],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [arn('execution', `${restart.stateMachine.stateMachineName}:*`)],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          stack.formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule',
          }),
        ],
      }),
    );
    Validations.of(this.stateMachine).acknowledge({
      id: WILDCARD_RESOURCE_FINDING,
      reason:
        'Logging to CloudWatch Logs (logs:*LogDelivery, logs:*ResourcePolicies, logs:DescribeLogGroups) and X-Ray tracing (xray:Put*, xray:GetSampling*) support no resource-level permissions.',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}/*]`,
      reason:
        'The Distributed Map names its child executions at run time; only children of this state machine.',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${restartName}:*]`,
      reason:
        'Each host’s restart execution is named after its task at run time; only executions of the restart workflow.',
    });
  }

  /** Lets the function start batch executions (nothing more), and tells it the state machine's ARN. */
  grantStart(fn: ProjectFunction): void {
    fn.addEnvironment(ENV.batchStateMachineArn, this.stateMachine.stateMachineArn);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [this.stateMachine.stateMachineArn],
      }),
    );
  }

  /** Lets the function start, redrive and stop batch executions, and tells it the state machine's ARN. */
  grantStartAndControl(fn: ProjectFunction): void {
    const stack = Stack.of(this);
    this.grantStart(fn);
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution', 'states:RedriveExecution'],
        resources: [executions],
      }),
    );
    Validations.of(fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${this.stateMachineName}:*]`,
      reason:
        'Batch executions are named per batch and round at run time; only executions of this state machine.',
    });
  }
}
