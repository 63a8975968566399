import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { commandFinishedPattern, executionEndedPattern, restartRequestedPattern } from '#core/event-patterns';
import { HOST_PARAMETER_PATTERNS } from '#core/host-parameters';
import { RESTART_SUBTASKS } from '#core/subtasks';
import { API_ROUTES, routeKey, STATIC_ROUTES } from '#http/routes';
import { SWEEP_INTERVAL } from '#infra/constructs/execution-reconciler';
import { LOG_RETENTION, type ProjectFunction } from '#infra/constructs/lambda-defaults';
import { DEFAULT_SETTINGS } from '#infra/settings';
import { tableDefinitions } from '#local/tables';
import { HOST_TABLE, TASK_STREAM_MAPPING, TASK_TABLE } from '#store/table-schema';
import { ENV, functionSettings, LAMBDA_FUNCTIONS, type LambdaFunctionId } from '../../functions/catalog.ts';
import { commandDocuments } from '../../host-scripts/command-documents.ts';
import {
  allStatements,
  assemblyValidationViolations,
  canonical,
  cfnLint,
  deployedDefinition,
  disallowedCfnLintFindings,
  getAtt,
  joinedText,
  logicalId,
  ref,
  resourcesOfType,
  retainedResourcesWithFixedNames,
  roleStatements,
  type Statement,
  type Synthesized,
  synthesize,
  unacknowledgedNagFindings,
} from './synthesize.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize({ bundle: true });
});

const idOf = (construct: Parameters<typeof logicalId>[1]) => logicalId(synth.stack, construct);
const propertiesOf = (id: string) => {
  const resource = synth.json.Resources[id];
  if (!resource) throw new Error(`No resource ${id}`);
  return resource.Properties ?? {};
};
const functions = () => {
  const { workflow, rollout, commandCallback, executionReconciler, restartTriggers, taskEvents, api } =
    synth.stack;
  return {
    admitHost: rollout.admitHost,
    recordHostOutcome: rollout.recordHostOutcome,
    finishBatch: rollout.finishBatch,
    api: api.handler,
    consoleAssets: api.consoleAssets,
    runSubtask: workflow.runSubtask,
    finishTask: workflow.finishTask,
    commandCallback: commandCallback.handler,
    reconcileExecution: executionReconciler.handler,
    sweepTasks: executionReconciler.sweeper,
    restartTrigger: restartTriggers.handler,
    publishTaskEvents: taskEvents.publisher,
  } satisfies Record<keyof typeof LAMBDA_FUNCTIONS, ProjectFunction>;
};

const arn = (service: string, ...resource: unknown[]) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      ref('AWS::Partition'),
      `:${service}:`,
      ref('AWS::Region'),
      ':',
      ref('AWS::AccountId'),
      ...resource,
    ],
  ],
});
const allow = (actions: string[], resources: unknown[], condition?: unknown): Statement => ({
  Effect: 'Allow',
  Action: actions,
  Resource: resources,
  ...(condition ? { Condition: condition } : {}),
});
const documentId = (key: Parameters<Synthesized['stack']['commands']['documentName']>[0]) =>
  (synth.stack.resolve(synth.stack.commands.documentName(key)) as { Ref: string }).Ref;

describe('cdk-nag (AWS Solutions)', () => {
  it('leaves no finding unacknowledged', () => {
    expect(unacknowledgedNagFindings(synth.app)).toEqual([]);
  });

  it('writes a validation report without violations into the cloud assembly', () => {
    expect(assemblyValidationViolations(synth.app)).toEqual([]);
  });

  it('acknowledges only the reviewed findings, each with a reason', () => {
    const acknowledged = synth.app.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) =>
          Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
            at: construct.node.path.replace(`${synth.stack.node.path}/`, ''),
            id: id.replace(/^Annotation::/, ''),
            reason,
          })),
        ),
    );
    for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(40);
    const wildcard = 'AwsSolutions-IAM5[Resource::*]';
    const instances = (fn: string) => [
      `${fn}: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]`,
      `${fn}: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:managed-instance/*]`,
    ];
    const stateMachineId = idOf(synth.stack.workflow.stateMachine);
    const executions = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${stateMachineId}.Name>:*]`;
    const batchName = synth.stack.rollout.stateMachineName;
    const batchExecutions = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${batchName}:*]`;
    const batchChildren = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${batchName}/*]`;
    const outputLogGroupId = idOf(synth.stack.commands.outputLogGroup);
    const outputStreams = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<${outputLogGroupId}>:log-stream:*]`;
    expect(acknowledged.map(({ at, id }) => `${at}: ${id}`).sort()).toEqual(
      [
        `AgentCommands/InstanceOutputPolicy: ${wildcard}`,
        `AgentCommands/InstanceOutputPolicy: ${outputStreams}`,
        `Api/Handler: ${wildcard}`,
        `Api/Handler: ${wildcard}`,
        `Api/Handler: ${wildcard}`,
        ...instances('Api/Handler'),
        `Api/Handler: ${wildcard}`,
        `Api/Handler: ${executions}`,
        `Api/Handler: ${batchExecutions}`,
        `BatchRollout/AdmitHost: ${wildcard}`,
        `BatchRollout/AdmitHost: ${executions}`,
        ...Array.from({ length: 3 }, () => `BatchRollout/FinishBatch: ${wildcard}`),
        `BatchRollout/FinishBatch: ${executions}`,
        ...Array.from({ length: 4 }, () => `BatchRollout/RecordHostOutcome: ${wildcard}`),
        ...instances('BatchRollout/RecordHostOutcome'),
        `BatchRollout/RecordHostOutcome: ${executions}`,
        `BatchRollout/StateMachine: ${wildcard}`,
        `BatchRollout/StateMachine: ${executions}`,
        `BatchRollout/StateMachine: ${batchChildren}`,
        'BatchRollout/ExecutionEnded/DeadLetterQueue: AwsSolutions-SQS3',
        `Api/Handler: ${outputStreams}`,
        'Api/HttpApi/GET--openapi.json: AwsSolutions-APIG4',
        'Api/HttpApi/GET--console: AwsSolutions-APIG4',
        'Api/HttpApi/GET--console--{asset}: AwsSolutions-APIG4',
        `Api/ConsoleAssets: ${wildcard}`,
        `CommandCallback/Handler: ${wildcard}`,
        `CommandCallback/Handler: ${wildcard}`,
        'CommandCallback/Trigger/DeadLetterQueue: AwsSolutions-SQS3',
        `ExecutionReconciler/Handler: ${wildcard}`,
        `ExecutionReconciler/Handler: ${wildcard}`,
        `ExecutionReconciler/Handler: ${wildcard}`,
        `ExecutionReconciler/Handler: ${executions}`,
        'ExecutionReconciler/Trigger/DeadLetterQueue: AwsSolutions-SQS3',
        `ExecutionReconciler/Sweeper: ${wildcard}`,
        `ExecutionReconciler/Sweeper: ${wildcard}`,
        `ExecutionReconciler/Sweeper: ${wildcard}`,
        `ExecutionReconciler/Sweeper: ${executions}`,
        'ExecutionReconciler/SweepSchedule/DeadLetterQueue: AwsSolutions-SQS3',
        `RestartWorkflow/FinishTask: ${wildcard}`,
        `RestartWorkflow/RunSubtask: ${wildcard}`,
        ...instances('RestartWorkflow/RunSubtask'),
        `RestartWorkflow/StateMachine: ${wildcard}`,
        `RestartTriggers/Handler: ${wildcard}`,
        'RestartTriggers/RejectedRequests: AwsSolutions-SQS3',
        'RestartTriggers/Trigger/DeadLetterQueue: AwsSolutions-SQS3',
        `TaskEvents/Publisher: ${wildcard}`,
        `TaskEvents/Publisher: ${wildcard}`,
        'TaskEvents/FailedBatches: AwsSolutions-SQS3',
      ].sort(),
    );
  });

  it('reports no CDK warnings or errors', () => {
    const annotations = Annotations.fromStack(synth.stack);
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });
});

describe('restart state machine', () => {
  const stateMachine = () => propertiesOf(idOf(synth.stack.workflow.stateMachine));
  const definition = () =>
    deployedDefinition(
      stateMachine().DefinitionString as string,
      stateMachine().DefinitionSubstitutions as Record<string, unknown>,
    );

  it('is a Standard workflow logging everything, execution data included, and traced', () => {
    expect(stateMachine()).toMatchObject({
      StateMachineType: 'STANDARD',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [
          { CloudWatchLogsLogGroup: { LogGroupArn: getAtt(idOf(synth.stack.workflow.logGroup), 'Arn') } },
        ],
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('logs under Step Functions’ vendedlogs prefix, to a group named after the stack’s own id', () => {
    const name = propertiesOf(idOf(synth.stack.workflow.logGroup)).LogGroupName as {
      'Fn::Join': [string, [string, unknown]];
    };
    const [separator, [prefix, stackUuid]] = name['Fn::Join'];
    expect(separator).toBe('-');
    expect(prefix).toMatch(/^\/aws\/vendedlogs\/states\/OcpAgentRestartStack-RestartWorkflow-/);
    expect(stackUuid).toEqual({ 'Fn::Select': [2, { 'Fn::Split': ['/', ref('AWS::StackId')] }] });
  });

  it('runs the five subtasks in order, each with its own timeout, on the run-subtask function', () => {
    const { StartAt, States } = definition();
    // The restart path: each state's Next, a Choice's Default (the other branch is the rollback).
    const path: string[] = [];
    for (let name: unknown = StartAt; typeof name === 'string' && !path.includes(name); ) {
      path.push(name);
      name = States[name]?.Type === 'Choice' ? States[name]?.Default : States[name]?.Next;
    }
    const subtaskNames = new Set(RESTART_SUBTASKS.map((subtask) => subtask.name));
    expect(path.filter((name) => subtaskNames.has(name))).toEqual(
      RESTART_SUBTASKS.map((subtask) => subtask.name),
    );
    const runSubtask = `GetAtt(${idOf(synth.stack.workflow.runSubtask.function)}.Arn)`;
    RESTART_SUBTASKS.forEach((subtask, index) => {
      expect(States[subtask.name]).toMatchObject({
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        TimeoutSeconds: subtask.timeoutSeconds,
        Parameters: { FunctionName: runSubtask, Payload: { subtaskIndex: index } },
      });
    });
  });

  it('fills each ASL placeholder with the ARN of the function LAMBDA_FUNCTIONS names for it', () => {
    const substitutions = stateMachine().DefinitionSubstitutions as Record<string, unknown>;
    const { runSubtask, finishTask: finish } = functions();
    const expected = Object.fromEntries(
      Object.entries({ runSubtask, finishTask: finish }).flatMap(([id, fn]) => {
        const entry = LAMBDA_FUNCTIONS[id as keyof typeof LAMBDA_FUNCTIONS];
        return 'aslPlaceholder' in entry ? [[entry.aslPlaceholder, getAtt(idOf(fn.function), 'Arn')]] : [];
      }),
    );
    expect(substitutions).toEqual(expected);
    const finishTask = `GetAtt(${idOf(synth.stack.workflow.finishTask.function)}.Arn)`;
    expect(
      Object.values(definition().States).some(
        (state) => (state.Parameters as { FunctionName?: string } | undefined)?.FunctionName === finishTask,
      ),
    ).toBe(true);
  });

  it('may invoke exactly the run-subtask and finish-task functions', () => {
    const roleId = idOf(synth.stack.workflow.stateMachine.role);
    const invokes = roleStatements(synth.json, roleId).filter((statement) =>
      statement.Action.some((action) => action.startsWith('lambda:')),
    );
    expect(invokes).toEqual([
      allow(
        ['lambda:InvokeFunction'],
        [
          getAtt(idOf(synth.stack.workflow.runSubtask.function), 'Arn'),
          getAtt(idOf(synth.stack.workflow.finishTask.function), 'Arn'),
        ],
      ),
    ]);
  });
});

describe('batch rollout state machine', () => {
  const stateMachine = () => propertiesOf(idOf(synth.stack.rollout.stateMachine));
  const definition = () =>
    deployedDefinition(
      stateMachine().DefinitionString as string,
      stateMachine().DefinitionSubstitutions as Record<string, unknown>,
    );
  const itemStates = () =>
    (
      definition().States['Restart hosts']!.ItemProcessor as {
        States: Record<string, Record<string, unknown>>;
      }
    ).States;

  it('is a Standard workflow, logged in full and traced, whose Map runs each host as a child execution', () => {
    expect(stateMachine()).toMatchObject({
      StateMachineType: 'STANDARD',
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
      TracingConfiguration: { Enabled: true },
    });
    expect(definition().States['Restart hosts']).toMatchObject({
      Type: 'Map',
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
      MaxConcurrencyPath: '$.rollout.maxConcurrency',
    });
  });

  it('runs the restart workflow itself for each host, for longer than its five subtasks may take', () => {
    const restart = itemStates()['Restart host']!;
    expect(restart.Resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    expect((restart.Parameters as Record<string, unknown>).StateMachineArn).toBe(
      `Ref(${idOf(synth.stack.workflow.stateMachine)})`,
    );
    const subtasksSeconds = RESTART_SUBTASKS.reduce((total, subtask) => total + subtask.timeoutSeconds, 0);
    expect(restart.TimeoutSeconds as number).toBeGreaterThan(subtasksSeconds);
  });

  it('may invoke its three functions, start and follow restart executions, and run its own Map Run children', () => {
    const roleId = idOf(synth.stack.rollout.stateMachine.role);
    const name = synth.stack.rollout.stateMachineName;
    const restartId = idOf(synth.stack.workflow.stateMachine);
    const statements = roleStatements(synth.json, roleId).filter(
      (statement) =>
        !statement.Action.some((action) => action.startsWith('logs:') || action.startsWith('xray:')),
    );
    expect(canonical(statements)).toEqual(
      canonical([
        allow(
          ['lambda:InvokeFunction'],
          [
            synth.stack.rollout.admitHost,
            synth.stack.rollout.recordHostOutcome,
            synth.stack.rollout.finishBatch,
          ].map((fn) => getAtt(idOf(fn.function), 'Arn')),
        ),
        allow(['states:StartExecution'], [arn('states', `:stateMachine:${name}`)]),
        allow(['states:DescribeExecution', 'states:StopExecution'], [arn('states', `:execution:${name}/*`)]),
        allow(['states:StartExecution'], [ref(restartId)]),
        allow(
          ['states:DescribeExecution', 'states:StopExecution'],
          [arn('states', ':execution:', getAtt(restartId, 'Name'), ':*')],
        ),
        allow(
          ['events:DescribeRule', 'events:PutRule', 'events:PutTargets'],
          [arn('events', ':rule/StepFunctionsGetEventsForStepFunctionsExecutionRule')],
        ),
      ]),
    );
  });
});

describe('IAM', () => {
  const TASK_ITEM_ACTIONS = [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
  ];
  const tag = DEFAULT_SETTINGS.managedInstanceTag;
  const statementsOf = (fn: ProjectFunction) => roleStatements(synth.json, idOf(fn.role));
  const basics = (fn: ProjectFunction) => [
    allow(['logs:CreateLogStream', 'logs:PutLogEvents'], [getAtt(idOf(fn.logGroup), 'Arn')]),
    allow(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], ['*']),
  ];
  const taskItems = () => allow(TASK_ITEM_ACTIONS, [getAtt(idOf(synth.stack.store.taskTable), 'Arn')]);
  const sendToTaggedInstances = () =>
    allow(['ssm:SendCommand'], [arn('ec2', ':instance/*'), arn('ssm', ':managed-instance/*')], {
      StringEquals: { [`ssm:resourceTag/${tag.key}`]: tag.value },
    });
  const taskResponse = () =>
    allow(
      ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      [ref(idOf(synth.stack.workflow.stateMachine))],
    );
  const executions = () =>
    arn('states', ':execution:', getAtt(idOf(synth.stack.workflow.stateMachine), 'Name'), ':*');
  const diagnoseCommands = () =>
    allow(['ssm:GetCommandInvocation', 'ssm:DescribeInstanceInformation'], ['*']);
  const deadLetters = (queue: Parameters<typeof idOf>[0]) =>
    allow(['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], [getAtt(idOf(queue), 'Arn')]);

  it('lets run-subtask record attempts, send the five subtask documents to tagged instances and complete its step', () => {
    const fn = synth.stack.workflow.runSubtask;
    expect(canonical(statementsOf(fn))).toEqual(
      canonical([
        ...basics(fn),
        taskItems(),
        allow(
          ['ssm:SendCommand'],
          RESTART_SUBTASKS.map((subtask) => arn('ssm', ':document/', ref(documentId(subtask.key)))),
        ),
        sendToTaggedInstances(),
        taskResponse(),
      ]),
    );
  });

  it('lets finish-task write task records only', () => {
    const fn = synth.stack.workflow.finishTask;
    expect(canonical(statementsOf(fn))).toEqual(canonical([...basics(fn), taskItems()]));
  });

  it('lets command-callback read command invocations, record outcomes and complete steps', () => {
    const { handler, trigger } = synth.stack.commandCallback;
    expect(canonical(statementsOf(handler))).toEqual(
      canonical([
        ...basics(handler),
        taskItems(),
        allow(['ssm:GetCommandInvocation'], ['*']),
        taskResponse(),
        deadLetters(trigger.deadLetterQueue),
      ]),
    );
  });

  it('lets reconcile-execution end tasks, ask SSM why a subtask timed out, resume a run past one that succeeded and cancel commands', () => {
    const { handler, trigger } = synth.stack.executionReconciler;
    expect(canonical(statementsOf(handler))).toEqual(
      canonical([
        ...basics(handler),
        taskItems(),
        diagnoseCommands(),
        allow(['states:RedriveExecution'], [executions()]),
        taskResponse(),
        allow(['ssm:CancelCommand'], ['*']),
        deadLetters(trigger.deadLetterQueue),
      ]),
    );
  });

  it('lets sweep-tasks scan the host locks (not list tasks), free a lock whose task ended, read how executions and commands ended, complete steps and cancel commands', () => {
    const { sweeper, sweepSchedule } = synth.stack.executionReconciler;
    const taskTableArn = getAtt(idOf(synth.stack.store.taskTable), 'Arn');
    expect(canonical(statementsOf(sweeper))).toEqual(
      canonical([
        ...basics(sweeper),
        taskItems(),
        allow(
          ['dynamodb:Scan'],
          [{ 'Fn::Join': ['', [taskTableArn, `/index/${TASK_TABLE.hostLocksIndex.name}`]] }],
        ),
        allow(['dynamodb:ConditionCheckItem'], [taskTableArn]),
        allow(['states:DescribeExecution', 'states:RedriveExecution'], [executions()]),
        taskResponse(),
        diagnoseCommands(),
        allow(['ssm:CancelCommand'], ['*']),
        deadLetters(sweepSchedule.deadLetterQueue),
      ]),
    );
  });

  it('lets restart-trigger start restarts like the API and report refused requests on the bus and queue', () => {
    const { handler, trigger, rejectedRequests } = synth.stack.restartTriggers;
    expect(canonical(statementsOf(handler))).toEqual(
      canonical([
        ...basics(handler),
        taskItems(),
        allow(['dynamodb:GetItem'], [getAtt(idOf(synth.stack.store.hostTable), 'Arn')]),
        allow(['states:StartExecution'], [ref(idOf(synth.stack.workflow.stateMachine))]),
        // A fleet's batch (an event's hostIds, a schedule run): its hosts looked up and its items
        // written many at once, and its execution started; nothing more of the rollout's executions.
        allow(
          ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
          [getAtt(idOf(synth.stack.store.taskTable), 'Arn')],
        ),
        allow(['dynamodb:BatchGetItem'], [getAtt(idOf(synth.stack.store.hostTable), 'Arn')]),
        allow(['states:StartExecution'], [ref(idOf(synth.stack.rollout.stateMachine))]),
        allow(['events:PutEvents'], [getAtt(idOf(synth.stack.taskEvents.bus), 'Arn')]),
        allow(['sqs:SendMessage'], [getAtt(idOf(rejectedRequests), 'Arn')]),
        deadLetters(trigger.deadLetterQueue),
      ]),
    );
  });

  it('lets publish-task-events read the task stream and put events on the product’s bus', () => {
    const { publisher, bus, failedBatches } = synth.stack.taskEvents;
    expect(canonical(statementsOf(publisher))).toEqual(
      canonical([
        ...basics(publisher),
        allow(['dynamodb:ListStreams'], ['*']),
        allow(
          ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
          [getAtt(idOf(synth.stack.store.taskTable), 'StreamArn')],
        ),
        allow(['events:PutEvents'], [getAtt(idOf(bus), 'Arn')]),
        deadLetters(failedBatches),
      ]),
    );
  });

  it('lets the api function use both tables (scanning only the host table), drive executions and query agent status on tagged instances', () => {
    const fn = synth.stack.api.handler;
    const taskTableArn = getAtt(idOf(synth.stack.store.taskTable), 'Arn');
    const stateMachineId = idOf(synth.stack.workflow.stateMachine);
    expect(canonical(statementsOf(fn))).toEqual(
      canonical([
        ...basics(fn),
        taskItems(),
        allow(
          ['dynamodb:Query'],
          [TASK_TABLE.byCreationIndex.name, TASK_TABLE.byHostIndex.name].map((index) => ({
            'Fn::Join': ['', [taskTableArn, `/index/${index}`]],
          })),
        ),
        allow(['dynamodb:GetItem'], [getAtt(idOf(synth.stack.store.hostTable), 'Arn')]),
        allow(['states:StartExecution'], [ref(stateMachineId)]),
        allow(
          ['states:RedriveExecution', 'states:StopExecution'],
          [arn('states', ':execution:', getAtt(stateMachineId, 'Name'), ':*')],
        ),
        allow(['ssm:SendCommand'], [arn('ssm', ':document/', ref(documentId('agentStatus')))]),
        sendToTaggedInstances(),
        allow(['ssm:GetCommandInvocation'], ['*']),
        // Subtask logs (a running command's output so far, an ended one's beyond SSM's inline limit):
        // reads of the output log group's streams only, whose names hold the command id.
        allow(
          ['logs:GetLogEvents'],
          [arn('logs', ':log-group:', ref(idOf(synth.stack.commands.outputLogGroup)), ':log-stream:*')],
        ),
        allow(['ssm:CancelCommand'], ['*']),
        // batchRestartAgents: hosts and their locks read many at once, a batch's items written so, its
        // hosts' ping status for a dry run, and the rollout's executions.
        allow(['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], [taskTableArn]),
        allow(['dynamodb:BatchGetItem'], [getAtt(idOf(synth.stack.store.hostTable), 'Arn')]),
        allow(['ssm:DescribeInstanceInformation', 'ssm:GetCommandInvocation'], ['*']),
        // listHosts: the host table scanned (it grows with the fleet, not with the tasks).
        allow(['dynamodb:Scan'], [getAtt(idOf(synth.stack.store.hostTable), 'Arn')]),
        allow(['states:StartExecution'], [ref(idOf(synth.stack.rollout.stateMachine))]),
        allow(
          ['states:DescribeExecution', 'states:RedriveExecution', 'states:StopExecution'],
          [arn('states', `:execution:${synth.stack.rollout.stateMachineName}:*`)],
        ),
      ]),
    );
  });

  it('offers a policy for hosts’ instance roles with exactly what the SSM Agent needs to stream command output', () => {
    const policy = synth.stack.commands.instanceOutputPolicy;
    const outputLogGroupId = idOf(synth.stack.commands.outputLogGroup);
    const properties = propertiesOf(idOf(policy));
    expect(synth.json.Resources[idOf(policy)]?.Type).toBe('AWS::IAM::ManagedPolicy');
    expect(properties.ManagedPolicyName).toBeUndefined();
    expect(properties.Roles).toBeUndefined();
    const statements = allStatements(synth.json)
      .filter(({ resource }) => resource === idOf(policy))
      .map(({ statement }) => statement);
    expect(canonical(statements)).toEqual(
      canonical([
        allow(
          ['logs:CreateLogGroup', 'logs:DescribeLogStreams'],
          [arn('logs', ':log-group:', ref(outputLogGroupId)), getAtt(outputLogGroupId, 'Arn')],
        ),
        allow(
          ['logs:CreateLogStream', 'logs:PutLogEvents'],
          [arn('logs', ':log-group:', ref(outputLogGroupId), ':log-stream:*')],
        ),
        allow(['logs:DescribeLogGroups'], ['*']),
      ]),
    );
  });

  // The alarm topic's key policy is checked on its own (alarms.test.ts): its "*" is the key itself.
  const identityStatements = () =>
    allStatements(synth.json).filter(
      ({ resource }) => synth.json.Resources[resource]?.Type !== 'AWS::KMS::Key',
    );

  it('allows no wildcard action anywhere', () => {
    const wildcards = identityStatements().filter(
      ({ statement }) =>
        statement.Effect === 'Allow' && statement.Action.some((action) => action.includes('*')),
    );
    expect(wildcards).toEqual([]);
  });

  it('uses the resource "*" only for actions AWS authorizes on no narrower resource', () => {
    const unscoped = new Set([
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'xray:GetSamplingRules',
      'xray:GetSamplingTargets',
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
      'ssm:GetCommandInvocation',
      'ssm:DescribeInstanceInformation',
      'ssm:CancelCommand',
      'dynamodb:ListStreams',
    ]);
    const offending = identityStatements()
      .filter(({ statement }) => statement.Effect === 'Allow' && statement.Resource.includes('*'))
      .flatMap(({ resource, statement }) =>
        statement.Action.filter((action) => !unscoped.has(action)).map((action) => `${resource}: ${action}`),
      );
    expect(offending).toEqual([]);
  });

  it('gives every role inline grants only, no managed policies', () => {
    for (const [, role] of resourcesOfType(synth.json, 'AWS::IAM::Role')) {
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('event rules', () => {
  const ruleOf = (trigger: { rule: Parameters<typeof idOf>[0] }) => propertiesOf(idOf(trigger.rule));

  it('send the five subtask documents’ finished commands to command-callback', () => {
    const { handler, trigger } = synth.stack.commandCallback;
    const pattern = commandFinishedPattern([]);
    expect(ruleOf(trigger).EventPattern).toEqual({
      ...pattern,
      detail: {
        ...pattern.detail,
        'document-name': RESTART_SUBTASKS.map((subtask) => ref(documentId(subtask.key))),
      },
    });
    expect(ruleOf(trigger).EventBusName).toBeUndefined();
    expect(ruleOf(trigger).Targets).toEqual([
      {
        Id: expect.any(String),
        Arn: getAtt(idOf(handler.function), 'Arn'),
        DeadLetterConfig: { Arn: getAtt(idOf(trigger.deadLetterQueue), 'Arn') },
        RetryPolicy: {
          MaximumRetryAttempts: expect.any(Number),
          MaximumEventAgeInSeconds: expect.any(Number),
        },
      },
    ]);
  });

  it('send the restart state machine’s ended executions to reconcile-execution', () => {
    const { handler, trigger } = synth.stack.executionReconciler;
    const pattern = executionEndedPattern('ARN');
    expect(ruleOf(trigger).EventPattern).toEqual({
      ...pattern,
      detail: { ...pattern.detail, stateMachineArn: [ref(idOf(synth.stack.workflow.stateMachine))] },
    });
    expect(ruleOf(trigger).Targets).toMatchObject([
      {
        Arn: getAtt(idOf(handler.function), 'Arn'),
        DeadLetterConfig: { Arn: getAtt(idOf(trigger.deadLetterQueue), 'Arn') },
      },
    ]);
  });

  it('send the batch state machine’s ended executions to finish-batch, which ends a batch left unfinished', () => {
    const { finishBatch, executionEnded, stateMachine } = synth.stack.rollout;
    const pattern = executionEndedPattern('ARN');
    expect(ruleOf(executionEnded).EventPattern).toEqual({
      ...pattern,
      detail: { ...pattern.detail, stateMachineArn: [ref(idOf(stateMachine))] },
    });
    expect(ruleOf(executionEnded).Targets).toMatchObject([
      {
        Arn: getAtt(idOf(finishBatch.function), 'Arn'),
        DeadLetterConfig: { Arn: getAtt(idOf(executionEnded.deadLetterQueue), 'Arn') },
      },
    ]);
  });

  it('send restart requests on the product’s bus to restart-trigger', () => {
    const { handler, trigger } = synth.stack.restartTriggers;
    expect(ruleOf(trigger)).toMatchObject({
      EventBusName: ref(idOf(synth.stack.taskEvents.bus)),
      EventPattern: restartRequestedPattern(),
      Targets: [
        {
          Arn: getAtt(idOf(handler.function), 'Arn'),
          DeadLetterConfig: { Arn: getAtt(idOf(trigger.deadLetterQueue), 'Arn') },
        },
      ],
    });
  });

  it('admit restart requests on the product’s bus only from the deploying account', () => {
    const policies = resourcesOfType(synth.json, 'AWS::Events::EventBusPolicy').map(
      ([, resource]) => resource.Properties,
    );
    const account = { Ref: 'AWS::AccountId' };
    expect(policies).toContainEqual(
      expect.objectContaining({
        EventBusName: ref(idOf(synth.stack.taskEvents.bus)),
        Statement: expect.objectContaining({
          Effect: 'Allow',
          Action: 'events:PutEvents',
          Principal: {
            AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', account, ':root']] },
          },
        }),
      }),
    );
    expect(policies).toContainEqual(
      expect.objectContaining({
        Statement: expect.objectContaining({
          Effect: 'Deny',
          Action: 'events:PutEvents',
          Condition: { StringNotEquals: { 'aws:PrincipalAccount': [account] } },
        }),
      }),
    );
  });

  it('publish every change on the task table’s stream, in order, keeping batches that keep failing', () => {
    const { publisher, failedBatches } = synth.stack.taskEvents;
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: ref(idOf(publisher.function)),
      EventSourceArn: getAtt(idOf(synth.stack.store.taskTable), 'StreamArn'),
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: getAtt(idOf(failedBatches), 'Arn') } },
      // The settings local mode's stream poller applies too.
      BatchSize: TASK_STREAM_MAPPING.batchSize,
      MaximumRetryAttempts: TASK_STREAM_MAPPING.retryAttempts,
      BisectBatchOnFunctionError: TASK_STREAM_MAPPING.bisectBatchOnError,
    });
    expect(TASK_STREAM_MAPPING.reportBatchItemFailures).toBe(true);
    expect(propertiesOf(idOf(failedBatches))).toMatchObject({ SqsManagedSseEnabled: true });
  });

  it('run sweep-tasks every minute', () => {
    const { sweeper, sweepSchedule } = synth.stack.executionReconciler;
    expect(SWEEP_INTERVAL.toSeconds()).toBe(60);
    expect(ruleOf(sweepSchedule)).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        {
          Arn: getAtt(idOf(sweeper.function), 'Arn'),
          DeadLetterConfig: { Arn: getAtt(idOf(sweepSchedule.deadLetterQueue), 'Arn') },
        },
      ],
    });
  });

  it('keep undeliverable events and failed invocations in an encrypted, TLS-only queue', () => {
    const { commandCallback, executionReconciler, restartTriggers } = synth.stack;
    for (const { handler, trigger } of [
      commandCallback,
      executionReconciler,
      restartTriggers,
      { handler: executionReconciler.sweeper, trigger: executionReconciler.sweepSchedule },
    ]) {
      const queueId = idOf(trigger.deadLetterQueue);
      expect(propertiesOf(queueId)).toMatchObject({ SqsManagedSseEnabled: true });
      synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(queueId)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      synth.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: ref(idOf(handler.function)),
        DestinationConfig: { OnFailure: { Destination: getAtt(queueId, 'Arn') } },
      });
    }
  });
});

describe('HTTP API', () => {
  const api = () => synth.stack.api;
  const authorizerId = () => {
    const [[id] = []] = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Authorizer');
    if (!id) throw new Error('No authorizer');
    return id;
  };

  const routes = () =>
    resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties ?? {});
  const staticRouteKeys = Object.values(STATIC_ROUTES).map(routeKey);
  const integrationTargetOf = (fn: ProjectFunction) => {
    const [[integrationId] = []] = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Integration').filter(
      ([, integration]) =>
        JSON.stringify(integration.Properties?.IntegrationUri) ===
        JSON.stringify(getAtt(idOf(fn.function), 'Arn')),
    );
    if (!integrationId) throw new Error(`No integration of ${fn.functionId}`);
    expect(propertiesOf(integrationId)).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
    return { 'Fn::Join': ['', ['integrations/', ref(integrationId)]] };
  };

  it('has one route per API_ROUTES entry, each behind the JWT authorizer and served by the api function', () => {
    expect(
      routes()
        .map((route) => route.RouteKey)
        .sort(),
    ).toEqual([...Object.values(API_ROUTES).map(routeKey), ...staticRouteKeys].sort());
    const target = integrationTargetOf(api().handler);
    for (const route of routes().filter(
      (candidate) => !staticRouteKeys.includes(candidate.RouteKey as string),
    )) {
      expect(route).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: ref(authorizerId()),
        Target: target,
      });
    }
  });

  it('serves the OpenAPI document and the console without the authorizer, from the consoleAssets function', () => {
    const target = integrationTargetOf(api().consoleAssets);
    const staticRoutes = routes().filter((route) => staticRouteKeys.includes(route.RouteKey as string));
    expect(staticRoutes).toHaveLength(staticRouteKeys.length);
    for (const route of staticRoutes) {
      expect(route).toMatchObject({ AuthorizationType: 'NONE', Target: target });
      expect(route).not.toHaveProperty('AuthorizerId');
    }
    // It only reads its bundle: no grant beyond its own log group and tracing.
    const policies = resourcesOfType(synth.json, 'AWS::IAM::Policy').filter(([, policy]) =>
      ((policy.Properties?.Roles ?? []) as unknown[]).some(
        (role) => JSON.stringify(role) === JSON.stringify(ref(idOf(api().consoleAssets.role))),
      ),
    );
    const actions = policies.flatMap(([, policy]) =>
      (
        policy.Properties?.PolicyDocument as { Statement: { Action: string | string[] }[] } | undefined
      )?.Statement.flatMap((statement) => statement.Action),
    );
    expect(new Set(actions)).toEqual(
      new Set([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
      ]),
    );
  });

  it('tells the console how to sign in through the hosted login, back to the console’s URL only', () => {
    const { consoleClient, loginDomain } = synth.stack.identity;
    if (!consoleClient || !loginDomain) throw new Error('The default stack creates the hosted login');
    const consoleUrl = { 'Fn::Join': ['', [getAtt(idOf(api().httpApi), 'ApiEndpoint'), '/console']] };
    expect(propertiesOf(idOf(consoleClient))).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid'],
      CallbackURLs: [consoleUrl],
      LogoutURLs: [consoleUrl],
      SupportedIdentityProviders: ['COGNITO'],
      PreventUserExistenceErrors: 'ENABLED',
    });
    expect(propertiesOf(idOf(loginDomain))).toMatchObject({
      Domain: { 'Fn::Join': ['-', ['ocpagentrestartstack', ref('AWS::AccountId')]] },
    });
    const environment = propertiesOf(idOf(api().consoleAssets.function)).Environment as {
      Variables: Record<string, unknown>;
    };
    const config = JSON.stringify(environment.Variables[ENV.consoleConfig]);
    for (const part of [
      '"permissionsClaim\\":\\"cognito:groups',
      '"loopbackSignIn\\":false',
      '/oauth2/authorize',
      '/oauth2/token',
    ]) {
      expect(config).toContain(part);
    }
    expect(config).toContain(idOf(consoleClient));
  });

  it('trusts tokens of the stack’s user pool issued to its CLI and console clients', () => {
    const { userPool, userPoolClient, consoleClient } = synth.stack.identity;
    if (!userPool || !userPoolClient || !consoleClient)
      throw new Error('The default stack creates a user pool');
    expect(propertiesOf(authorizerId())).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Audience: [ref(idOf(userPoolClient)), ref(idOf(consoleClient))],
        Issuer: {
          'Fn::Join': [
            '',
            ['https://cognito-idp.', ref('AWS::Region'), '.amazonaws.com/', ref(idOf(userPool))],
          ],
        },
      },
    });
  });

  it('creates a user pool with required MFA, enforced threat protection and one group per OCP permission', () => {
    const { userPool, userPoolClient } = synth.stack.identity;
    if (!userPool || !userPoolClient) throw new Error('The default stack creates a user pool');
    expect(propertiesOf(idOf(userPool))).toMatchObject({
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      UserPoolTier: 'PLUS',
      UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      DeletionProtection: 'ACTIVE',
    });
    const groups = resourcesOfType(synth.json, 'AWS::Cognito::UserPoolGroup').map(
      ([, group]) => group.Properties?.GroupName,
    );
    expect(groups.sort()).toEqual(['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER']);
    const client = propertiesOf(idOf(userPoolClient));
    expect(client.GenerateSecret).toBe(false);
    expect(client.AllowedOAuthFlows).toBeUndefined();
  });

  it('logs every request to a log group and throttles the default stage', () => {
    const stage = propertiesOf(idOf(api().stage));
    expect(stage).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: DEFAULT_SETTINGS.apiThrottle.rateLimit,
        ThrottlingBurstLimit: DEFAULT_SETTINGS.apiThrottle.burstLimit,
      },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } },
    });
    const settings = stage.AccessLogSettings as {
      DestinationArn: { 'Fn::GetAtt': [string, string] };
      Format: string;
    };
    expect(synth.json.Resources[settings.DestinationArn['Fn::GetAtt'][0]]?.Type).toBe('AWS::Logs::LogGroup');
    expect(JSON.parse(settings.Format)).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
    });
  });
});

describe('tables', () => {
  const local = () => {
    const [taskTable, hostTable] = tableDefinitions({ taskTable: 'tasks', hostTable: 'hosts' });
    if (!taskTable || !hostTable) throw new Error('local/tables.ts defines two tables');
    return { taskTable, hostTable };
  };
  const sortedAttributes = (attributes: unknown) =>
    [...(attributes as { AttributeName: string }[])].sort((a, b) =>
      a.AttributeName.localeCompare(b.AttributeName),
    );

  it('create the task table with the keys, indexes and stream of TASK_TABLE, as local mode does', () => {
    const table = propertiesOf(idOf(synth.stack.store.taskTable));
    const { taskTable } = local();
    expect(table.KeySchema).toEqual([
      { AttributeName: TASK_TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TASK_TABLE.sortKey, KeyType: 'RANGE' },
    ]);
    expect(sortedAttributes(table.AttributeDefinitions)).toEqual(
      sortedAttributes(taskTable.AttributeDefinitions),
    );
    expect(table.GlobalSecondaryIndexes).toEqual(
      taskTable.GlobalSecondaryIndexes?.map(({ IndexName, KeySchema, Projection }) => ({
        IndexName,
        KeySchema,
        Projection,
      })),
    );
    expect((table.GlobalSecondaryIndexes as { IndexName: string }[]).map((index) => index.IndexName)).toEqual(
      [TASK_TABLE.byCreationIndex.name, TASK_TABLE.byHostIndex.name, TASK_TABLE.hostLocksIndex.name],
    );
    expect(table.StreamSpecification).toEqual({ StreamViewType: TASK_TABLE.streamView });
    expect(table.TimeToLiveSpecification).toEqual({
      AttributeName: TASK_TABLE.timeToLiveAttribute,
      Enabled: true,
    });
  });

  it('index the host locks alone, by task and instant taken, keys only: what the sweep scans', () => {
    const table = propertiesOf(idOf(synth.stack.store.taskTable));
    const indexes = table.GlobalSecondaryIndexes as { IndexName: string }[];
    expect(indexes.find((index) => index.IndexName === TASK_TABLE.hostLocksIndex.name)).toEqual({
      IndexName: 'hostLocks',
      KeySchema: [
        { AttributeName: 'taskId', KeyType: 'HASH' },
        { AttributeName: 'since', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    });
    expect(table.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'taskId', AttributeType: 'N' },
        { AttributeName: 'since', AttributeType: 'S' },
      ]),
    );
  });

  it('create the host table keyed by a numeric hostId', () => {
    const table = propertiesOf(idOf(synth.stack.store.hostTable));
    expect(table.KeySchema).toEqual([{ AttributeName: HOST_TABLE.partitionKey, KeyType: 'HASH' }]);
    expect(table.AttributeDefinitions).toEqual(local().hostTable.AttributeDefinitions);
  });

  it('are on demand, encrypted, recoverable to a point in time, protected and retained', () => {
    for (const table of [synth.stack.store.taskTable, synth.stack.store.hostTable]) {
      const id = idOf(table);
      expect(propertiesOf(id)).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      });
      expect(synth.json.Resources[id]).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    }
  });
});

describe('Lambda functions', () => {
  it('deploy every function of LAMBDA_FUNCTIONS on Node.js 24, arm64, traced, logging to its own log group', () => {
    const deployed = resourcesOfType(synth.json, 'AWS::Lambda::Function');
    expect(deployed.map(([, fn]) => fn.Properties?.Description).sort()).toEqual(
      Object.values(LAMBDA_FUNCTIONS)
        .map((entry) => entry.description)
        .sort(),
    );
    for (const [id] of deployed) {
      const properties = propertiesOf(id);
      expect(properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
      });
      const logGroup = properties.LoggingConfig as { LogGroup: { Ref: string } };
      expect(synth.json.Resources[logGroup.LogGroup.Ref]?.Type).toBe('AWS::Logs::LogGroup');
    }
  });

  it('tell each function exactly the names its configuration reads', () => {
    const variables = (fn: ProjectFunction) =>
      Object.keys(
        (propertiesOf(idOf(fn.function)).Environment as { Variables: Record<string, unknown> }).Variables,
      ).sort();
    // Local mode gives each function's instances the same names (functions/catalog.ts).
    const all = functions();
    for (const [id, fn] of Object.entries(all)) {
      expect(variables(fn), id).toEqual(
        ['NODE_OPTIONS', ...functionSettings(id as LambdaFunctionId).environment].sort(),
      );
    }
    const documents = (fn: ProjectFunction) =>
      JSON.parse(
        joinedText(
          (propertiesOf(idOf(fn.function)).Environment as { Variables: Record<string, unknown> }).Variables[
            ENV.commandDocuments
          ],
        ),
      );
    expect(documents(all.runSubtask)).toEqual(
      Object.fromEntries(RESTART_SUBTASKS.map((subtask) => [subtask.key, `Ref(${documentId(subtask.key)})`])),
    );
    expect(documents(all.api)).toEqual({ agentStatus: `Ref(${documentId('agentStatus')})` });
    expect(propertiesOf(idOf(all.api.function))).toMatchObject({
      Environment: { Variables: { [ENV.permissionsClaim]: DEFAULT_SETTINGS.permissionsClaim } },
    });
  });

  it('bundle the console’s files and the OpenAPI document with consoleAssets only, which serves them', () => {
    const assembly = synth.app.synth();
    const manifest = JSON.parse(
      readFileSync(join(assembly.directory, `${synth.stack.artifactId}.assets.json`), 'utf8'),
    ) as { files: Record<string, { source: { path: string; packaging?: string } }> };
    const bundleDirs = Object.values(manifest.files)
      .filter((file) => file.source.packaging === 'zip')
      .map((file) => join(assembly.directory, file.source.path));
    const withAssets = bundleDirs.filter((dir) => existsSync(join(dir, 'console-assets')));
    expect(withAssets).toHaveLength(1);
    const [consoleBundle] = withAssets as [string];
    for (const dir of bundleDirs) {
      // Neither the console's code nor the OpenAPI document rides along in any other function.
      if (dir !== consoleBundle)
        expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).not.toContain('"openapi":"3.1.0"');
    }
    const answers = execFileSync(
      process.execPath,
      [
        '--no-warnings',
        '--input-type=module',
        '-e',
        `const { handler } = await import(${JSON.stringify(pathToFileURL(join(consoleBundle, 'index.mjs')).href)});
         const get = (routeKey, pathParameters) => handler({ routeKey, rawPath: '/', headers: {}, pathParameters, requestContext: { http: { method: 'GET' } } });
         process.stdout.write(JSON.stringify([await get('GET /console'), await get('GET /openapi.json'), await get('GET /console/{asset}', { asset: 'console.js' }), await get('GET /console/{asset}', { asset: 'config.json' })]));`,
      ],
      {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          [ENV.consoleAssetsDir]: join(consoleBundle, 'console-assets'),
          [ENV.consoleConfig]: JSON.stringify({ permissionsClaim: 'cognito:groups', loopbackSignIn: false }),
        },
        encoding: 'utf8',
      },
    );
    const [page, openApi, script, config] = JSON.parse(answers) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    }[];
    expect(page).toMatchObject({ statusCode: 200, headers: { 'content-type': 'text/html; charset=utf-8' } });
    expect(page?.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page?.body).toContain('/console/console.js');
    expect(JSON.parse(openApi?.body ?? '')).toEqual(JSON.parse(readFileSync('openapi.json', 'utf8')));
    expect(script).toMatchObject({
      statusCode: 200,
      headers: { 'content-type': 'text/javascript; charset=utf-8' },
    });
    expect(JSON.parse(config?.body ?? '')).toEqual({
      permissionsClaim: 'cognito:groups',
      loopbackSignIn: false,
    });
  });

  it('bundle each handler into an ES module that loads and exports handler', () => {
    const assembly = synth.app.synth();
    const manifest = JSON.parse(
      readFileSync(join(assembly.directory, `${synth.stack.artifactId}.assets.json`), 'utf8'),
    ) as { files: Record<string, { source: { path: string; packaging?: string } }> };
    const bundles = Object.values(manifest.files)
      .filter((file) => file.source.packaging === 'zip')
      .map((file) => join(assembly.directory, file.source.path, 'index.mjs'));
    expect(bundles).toHaveLength(Object.keys(LAMBDA_FUNCTIONS).length);
    for (const bundle of bundles) {
      expect(existsSync(`${bundle}.map`)).toBe(true);
      // The operator's clients stay out of every function: the CLI, the console's code and their libraries.
      const { sources } = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[] };
      expect(
        sources.filter((source) =>
          /(^|\/)(cli|console)\/|node_modules\/(commander|log-update|playwright-core)\//.test(source),
        ),
      ).toEqual([]);
      const exported = execFileSync(
        process.execPath,
        [
          '--no-warnings',
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); process.stdout.write(typeof m.handler);`,
        ],
        {
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'us-east-1',
            [ENV.taskTable]: 'tasks',
            [ENV.hostTable]: 'hosts',
            [ENV.stateMachineArn]: 'arn:aws:states:us-east-1:123456789012:stateMachine:restart',
            [ENV.commandDocuments]: '{}',
            [ENV.eventBusName]: 'bus',
            [ENV.rejectedQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/123456789012/rejected',
          },
          encoding: 'utf8',
        },
      );
      expect(exported).toBe('function');
    }
  });
});

describe('SSM Command documents', () => {
  it('create one Command document per host-scripts document, content as built', () => {
    for (const document of commandDocuments()) {
      expect(propertiesOf(documentId(document.key))).toEqual({
        DocumentType: 'Command',
        DocumentFormat: 'JSON',
        UpdateMethod: 'NewVersion',
        Content: document.content,
      });
    }
    expect(resourcesOfType(synth.json, 'AWS::SSM::Document')).toHaveLength(commandDocuments().length);
  });

  it('accept only an agentHome that matches the handlers’ pattern', () => {
    for (const [, document] of resourcesOfType(synth.json, 'AWS::SSM::Document')) {
      const content = document.Properties?.Content as {
        parameters: { agentHome: { allowedPattern: string } };
      };
      expect(content.parameters.agentHome.allowedPattern).toBe(HOST_PARAMETER_PATTERNS.agentHome);
    }
  });
});

describe('logs and outputs', () => {
  it('keep every log group for the retention period, and after the stack, unless its creation rolled back', () => {
    const logGroups = resourcesOfType(synth.json, 'AWS::Logs::LogGroup');
    expect(logGroups.length).toBeGreaterThanOrEqual(Object.keys(LAMBDA_FUNCTIONS).length + 2);
    for (const [, logGroup] of logGroups) {
      expect(logGroup.Properties?.RetentionInDays).toBe(LOG_RETENTION);
      expect(logGroup).toMatchObject({
        DeletionPolicy: 'RetainExceptOnCreate',
        UpdateReplacePolicy: 'Retain',
      });
    }
  });

  it('output the API URL, the user pool and client ids, the table names and the state machine ARN', () => {
    const { userPool, userPoolClient } = synth.stack.identity;
    if (!userPool || !userPoolClient) throw new Error('The default stack creates a user pool');
    const outputs = synth.json.Outputs ?? {};
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'AlarmTopicArn',
        'DashboardName',
        'ApiUrl',
        'ConsoleUrl',
        'CommandOutputLogGroup',
        'CommandOutputPolicyArn',
        'EventBusArn',
        'EventBusName',
        'HostTableName',
        'RejectedRequestsQueueUrl',
        'ManagedInstanceTag',
        'StateMachineArn',
        'BatchStateMachineArn',
        'TaskTableName',
        'UserPoolClientId',
        'UserPoolId',
      ].sort(),
    );
    expect(outputs.UserPoolId?.Value).toEqual(ref(idOf(userPool)));
    expect(outputs.UserPoolClientId?.Value).toEqual(ref(idOf(userPoolClient)));
    expect(outputs.TaskTableName?.Value).toEqual(ref(idOf(synth.stack.store.taskTable)));
    expect(outputs.HostTableName?.Value).toEqual(ref(idOf(synth.stack.store.hostTable)));
    expect(outputs.StateMachineArn?.Value).toEqual(ref(idOf(synth.stack.workflow.stateMachine)));
    expect(outputs.CommandOutputLogGroup?.Value).toEqual(ref(idOf(synth.stack.commands.outputLogGroup)));
    expect(outputs.CommandOutputPolicyArn?.Value).toEqual(
      ref(idOf(synth.stack.commands.instanceOutputPolicy)),
    );
    expect(outputs.CommandOutputPolicyArn?.Description).toMatch(
      /instance role.*AmazonSSMManagedInstanceCore/,
    );
    expect(outputs.EventBusArn?.Value).toEqual(getAtt(idOf(synth.stack.taskEvents.bus), 'Arn'));
    expect(JSON.stringify(outputs.ApiUrl?.Value)).toContain(idOf(synth.stack.api.httpApi));
    expect(outputs.ManagedInstanceTag?.Value).toBe(
      `${DEFAULT_SETTINGS.managedInstanceTag.key}=${DEFAULT_SETTINGS.managedInstanceTag.value}`,
    );
  });
});

describe('CloudFormation', () => {
  it('finds no cfn-lint error, and no warning but the allowed ones', () => {
    expect(disallowedCfnLintFindings(cfnLint(synth.json))).toEqual([]);
  });

  it('leaves behind no resource under a fixed name, so the stack can be deployed again after it', () => {
    expect(retainedResourcesWithFixedNames(synth.json)).toEqual([]);
  });
});
