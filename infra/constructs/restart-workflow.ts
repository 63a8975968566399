import { readFileSync } from 'node:fs';
import { ArnFormat, Fn, Names, Stack, Validations } from 'aws-cdk-lib';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { RESTART_SUBTASKS } from '#core/subtasks';
import { ENV } from '../../functions/catalog.ts';
import { repoPath } from '../paths.ts';
import type { AgentCommands } from './agent-commands.ts';
import { definitionSubstitutions } from './definition-substitutions.ts';
import { LOG_GROUP_DEFAULTS, ProjectFunction, WILDCARD_RESOURCE_FINDING } from './lambda-defaults.ts';
import type { TaskStore } from './task-store.ts';

/** The one workflow definition; CDK fills its ${Placeholders}, as local mode does. */
export const RESTART_DEFINITION_FILE = 'statemachine/restart-agent.asl.json';

export interface RestartWorkflowProps {
  readonly store: TaskStore;
  readonly commands: AgentCommands;
}

/**
 * The "Restart OCP agent" workflow: a Standard state machine built from the ASL file, whose Task
 * states invoke the run-subtask and finish-task functions (created here), logged in full and traced.
 */
export class RestartWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  /** The state machine's execution log. */
  readonly logGroup: LogGroup;
  readonly runSubtask: ProjectFunction;
  readonly finishTask: ProjectFunction;

  constructor(scope: Construct, id: string, props: RestartWorkflowProps) {
    super(scope, id);
    const { store, commands } = props;

    this.runSubtask = new ProjectFunction(this, 'RunSubtask', { functionId: 'runSubtask' });
    store.grantTaskTable(this.runSubtask);
    commands.grantSendCommand(
      this.runSubtask,
      RESTART_SUBTASKS.map((subtask) => subtask.key),
    );
    commands.useOutputLogGroup(this.runSubtask);

    this.finishTask = new ProjectFunction(this, 'FinishTask', { functionId: 'finishTask' });
    store.grantTaskTable(this.finishTask);

    const invoked = { runSubtask: this.runSubtask, finishTask: this.finishTask };
    const definition = readFileSync(repoPath(RESTART_DEFINITION_FILE), 'utf8');
    this.logGroup = new LogGroup(this, 'Logs', {
      ...LOG_GROUP_DEFAULTS,
      // Step Functions' recommended prefix keeps CloudWatch Logs' resource policy from growing per log
      // group. The name ends in the stack's id, new for every stack created: a group retained by an
      // earlier stack of the same name (deleted, or rolled back) never blocks the next deploy.
      logGroupName: Fn.join('-', [
        `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}`,
        Fn.select(2, Fn.split('/', Stack.of(this).stackId)),
      ]),
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(definition),
      definitionSubstitutions: definitionSubstitutions(RESTART_DEFINITION_FILE, definition, invoked),
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // DefinitionBody.fromString tells CDK nothing about the states' targets: exactly these two.
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: Object.values(invoked).map((fn) => fn.functionArn),
      }),
    );
    Validations.of(this.stateMachine).acknowledge({
      id: WILDCARD_RESOURCE_FINDING,
      reason:
        'Logging to CloudWatch Logs (logs:*LogDelivery, logs:*ResourcePolicies, logs:DescribeLogGroups) and X-Ray tracing (xray:Put*, xray:GetSampling*) support no resource-level permissions.',
    });

    // An operator's skip completes a redriven step from run-subtask itself.
    this.grantTaskResponse(this.runSubtask);
  }

  /** Lets the function start executions and tells it the state machine's ARN. */
  grantStart(fn: ProjectFunction): void {
    fn.addEnvironment(ENV.stateMachineArn, this.stateMachine.stateMachineArn);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [this.stateMachine.stateMachineArn],
      }),
    );
  }

  /** Lets the function start executions, redrive and stop them, and tells it the state machine's ARN. */
  grantStartAndControl(fn: ProjectFunction): void {
    this.grantStart(fn);
    this.grantOnExecutions(fn, ['states:RedriveExecution', 'states:StopExecution']);
  }

  /** Lets the function read how this state machine's executions ended, and redrive them if asked. */
  grantDescribeExecutions(fn: ProjectFunction, options: { redrive?: boolean } = {}): void {
    this.grantOnExecutions(fn, [
      'states:DescribeExecution',
      ...(options.redrive ? ['states:RedriveExecution'] : []),
    ]);
  }

  /** Lets the function read, redrive and stop this state machine's executions (a fleet host's restart). */
  grantControlExecutions(fn: ProjectFunction): void {
    this.grantOnExecutions(fn, [
      'states:DescribeExecution',
      'states:RedriveExecution',
      'states:StopExecution',
    ]);
  }

  /**
   * Lets the function redrive this state machine's executions: the resume past a subtask whose
   * state timed out although its command had succeeded.
   */
  grantRedriveExecutions(fn: ProjectFunction): void {
    this.grantOnExecutions(fn, ['states:RedriveExecution']);
  }

  /** Grants on every execution of this state machine (their names are chosen per task at run time). */
  private grantOnExecutions(fn: ProjectFunction, actions: string[]): void {
    const stack = Stack.of(this);
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fn.addToRolePolicy(new PolicyStatement({ actions, resources: [executions] }));
    const stateMachineName = flattenReference(stack.resolve(this.stateMachine.stateMachineName));
    Validations.of(fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*]`,
      reason:
        'Executions are named per task at run time; the statement allows only executions of this state machine.',
    });
  }

  /**
   * Lets the function complete a waiting step (SendTaskSuccess, SendTaskFailure). The statement is
   * its own policy: run-subtask is one of the state machine's targets, and its default policy is
   * something its function depends on, so a reference to the state machine there would be a cycle.
   */
  grantTaskResponse(fn: ProjectFunction): void {
    new Policy(fn, 'TaskResponse', {
      roles: [fn.role],
      statements: [
        new PolicyStatement({
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
          resources: [this.stateMachine.stateMachineArn],
        }),
      ],
    });
  }
}

/** How cdk-nag writes a CloudFormation reference inside a finding id: Ref X as <X>, GetAtt X.Y as <X.Y>. */
export function flattenReference(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    if ('Ref' in value && typeof value.Ref === 'string') return `<${value.Ref}>`;
    if ('Fn::GetAtt' in value && Array.isArray(value['Fn::GetAtt']))
      return `<${value['Fn::GetAtt'].join('.')}>`;
  }
  throw new Error(`Cannot name ${JSON.stringify(value)} in a cdk-nag finding`);
}
