import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IMetric,
  LogQueryWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  METRIC_DIMENSIONS,
  METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricDimensionValues,
  type MetricId,
  SUBTASK_DIMENSION_VALUES,
} from '#core/metric-names';
import { MAX_TASK_RUN_SECONDS } from '#core/subtasks';
import { API_ROUTES } from '#http/routes';
import type { AlarmSettings } from '../settings.ts';
import type { OcpApi } from './api.ts';
import { ProjectFunction } from './lambda-defaults.ts';

/** Where an operator starts: the task API's routes, by their paths. */
const TASK_API = `GET ${API_ROUTES.listTasks.path}?status=RUNNING (or FAILED), then GET ${API_ROUTES.getTask.path} and its subtask logs`;

/** What a queue's messages mean and where to look, for its alarm. */
export interface WatchedQueue {
  readonly queue: Queue;
  /** Completes "Messages in this queue are …". */
  readonly meaning: string;
  /** What to do. */
  readonly action: string;
}

export interface OperationsProps {
  readonly settings: AlarmSettings;
  readonly api: OcpApi;
  readonly restartStateMachine: StateMachine;
  readonly batchStateMachine: StateMachine;
  /** Queues described for their alarms; every other queue of the stack gets a generic description. */
  readonly queues: readonly WatchedQueue[];
  /** Log groups named in the alarms' descriptions. */
  readonly logGroups: {
    readonly restartWorkflow: string;
    readonly batchRollout: string;
    readonly apiAccess: string;
  };
}

/** A product metric (functions/core/metric-names.ts) with its dimensions, as handlers emit it. */
export function productMetric<Id extends MetricId>(
  id: Id,
  dimensions: MetricDimensionValues<Id>,
  options: { statistic: string; period: Duration; label?: string },
): Metric {
  const definition = METRICS[id];
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: definition.name,
    dimensionsMap: {
      [METRIC_DIMENSIONS.service]: METRICS_SERVICE,
      ...(dimensions as Readonly<Record<string, string>>),
    },
    ...options,
  });
}

/**
 * What an operator needs in production: the alarms, sent to one encrypted SNS topic (and e-mailed
 * when the deployment names an address), and a dashboard. Built last in the stack: it alarms on
 * every function and every queue the stack holds, found in its construct tree, so that one added
 * later cannot go unwatched.
 */
export class Operations extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  /** Every alarm, by a name saying what it watches. */
  readonly alarms = new Map<string, Alarm>();

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const key = new Key(this, 'TopicKey', {
      description: 'Encrypts the ocp-agent-restart alarm topic',
      enableKeyRotation: true,
    });
    // CloudWatch publishes to an encrypted topic only with a customer managed key it may use.
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: 'ocp-agent-restart alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.settings.email) this.topic.addSubscription(new EmailSubscription(props.settings.email));

    const functions = stack.node.findAll().filter((c): c is ProjectFunction => c instanceof ProjectFunction);
    const queues = stack.node.findAll().filter((c): c is Queue => c instanceof Queue);
    this.alarmOnRestarts(props);
    this.alarmOnStateMachines(props);
    this.alarmOnApi(props);
    for (const fn of functions) this.alarmOnFunction(fn);
    for (const queue of queues)
      this.alarmOnQueue(
        queue,
        props.queues.find((q) => q.queue === queue),
      );
    this.dashboard = this.buildDashboard(props, functions, queues);
  }

  private alarm(
    name: string,
    props: {
      metric: IMetric;
      threshold: number;
      evaluationPeriods?: number;
      comparisonOperator?: ComparisonOperator;
      treatMissingData: TreatMissingData;
      description: string;
    },
  ): Alarm {
    const alarm = new Alarm(this, name, {
      metric: props.metric,
      threshold: props.threshold,
      evaluationPeriods: props.evaluationPeriods ?? 1,
      comparisonOperator: props.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: props.treatMissingData,
      alarmDescription: props.description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.set(name, alarm);
    return alarm;
  }

  private alarmOnRestarts(props: OperationsProps): void {
    const { failedRestartsThreshold, failedRestartsWindowMinutes } = props.settings;
    this.alarm('RestartsFailing', {
      metric: productMetric(
        'restartTaskEnded',
        { outcome: 'FAILED' },
        { statistic: 'Sum', period: Duration.minutes(failedRestartsWindowMinutes) },
      ),
      threshold: failedRestartsThreshold,
      // No restart ended: nothing failed.
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description: `${failedRestartsThreshold} or more OCP agent restart tasks ended FAILED within ${failedRestartsWindowMinutes} minutes. Hosts may be left with their agent stopped. Find them with ${TASK_API}: the failed subtask's error and log say why (host offline, script failed, timed out). Retry or roll back each task through the API once the cause is fixed. Execution history: log group ${props.logGroups.restartWorkflow}.`,
    });
    const bound = MAX_TASK_RUN_SECONDS;
    this.alarm('TaskStuckRunning', {
      metric: productMetric(
        'oldestRunningTaskAge',
        {},
        { statistic: 'Maximum', period: Duration.minutes(1) },
      ),
      threshold: bound,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      // The sweep reports every minute, 0 when nothing runs: no report means the safety net is down.
      treatMissingData: TreatMissingData.BREACHING,
      description: `A restart task has been RUNNING for more than ${bound} s (the sum of its subtasks' timeouts) since it was last handed to its workflow, or the sweep (sweep-tasks, every minute) stopped reporting. Its host stays locked: no other restart can start there. Find it with ${TASK_API}; compare with its execution (task-<id>) in the restart state machine, log group ${props.logGroups.restartWorkflow}. Cancel the task through the API if its execution has ended; if the sweep stopped, check the sweep-tasks function's errors and its schedule's dead-letter queue.`,
    });
  }

  private alarmOnStateMachines(props: OperationsProps): void {
    const period = Duration.minutes(props.settings.failedRestartsWindowMinutes);
    const machines = [
      {
        name: 'RestartWorkflow',
        stateMachine: props.restartStateMachine,
        logGroup: props.logGroups.restartWorkflow,
        // Each failed restart fails its execution (so that a retry can redrive it): as many as the restarts alarm.
        failedThreshold: props.settings.failedRestartsThreshold,
        what: 'restart workflow executions (one per restart task, named task-<id>)',
      },
      {
        name: 'BatchRollout',
        stateMachine: props.batchStateMachine,
        logGroup: props.logGroups.batchRollout,
        failedThreshold: 1,
        what: 'fleet rollout executions (batchRestartAgents, named batch-<id>)',
      },
    ];
    for (const machine of machines) {
      this.alarm(`${machine.name}ExecutionsFailed`, {
        metric: machine.stateMachine.metricFailed({ statistic: 'Sum', period }),
        threshold: machine.failedThreshold,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description: `${machine.failedThreshold} or more ${machine.what} FAILED within ${props.settings.failedRestartsWindowMinutes} minutes. Open the failed executions in the Step Functions console (the failing state and its error), log group ${machine.logGroup}; the task or batch of the same id shows the outcome per host: ${TASK_API}.`,
      });
      this.alarm(`${machine.name}ExecutionsTimedOut`, {
        metric: machine.stateMachine.metricTimedOut({ statistic: 'Sum', period: Duration.minutes(5) }),
        threshold: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description: `One or more ${machine.what} TIMED OUT. Its task or batch is ended by the reconciler or the sweep; check it with ${TASK_API} and the execution's history in log group ${machine.logGroup}.`,
      });
    }
  }

  private alarmOnApi(props: OperationsProps): void {
    this.alarm('Api5xx', {
      metric: props.api.httpApi.metricServerError({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description: `The OCP-compatible API answered 5xx within 5 minutes: callers (OCP clients, operators) got an internal error. The api function's log group ${props.api.handler.logGroup.logGroupName} has a "Request failed" line with the error (its traceId is the response's x-ocp-trace-id); the access log ${props.logGroups.apiAccess} shows the route and status. Also check the api function's errors and throttles alarms.`,
    });
  }

  private alarmOnFunction(fn: ProjectFunction): void {
    const name = fn.node.path.replace(/^[^/]+\//, '').replace(/\//g, '');
    const logGroup = fn.logGroup.logGroupName;
    this.alarm(`${name}Errors`, {
      metric: fn.function.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description: `The ${fn.functionId} function (${fn.description}) failed (an uncaught error or a timeout) within 5 minutes. Its log group ${logGroup} has the error (level ERROR; filter by taskId). Its caller retries (Step Functions, EventBridge, the event source) and dead-letters what keeps failing: check the dead-letter queue alarms and ${TASK_API}.`,
    });
    this.alarm(`${name}Throttles`, {
      metric: fn.function.metricThrottles({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description: `Lambda throttled the ${fn.functionId} function within 5 minutes: the account's or the function's concurrency is exhausted, and its work is delayed (or refused, for the API). Check the account's Lambda concurrency and what else runs in it; the function's log group is ${logGroup}.`,
    });
  }

  private alarmOnQueue(queue: Queue, watched: WatchedQueue | undefined): void {
    const path = queue.node.path.replace(/^[^/]+\//, '');
    const name = path.replace(/\//g, '');
    if (queue.deadLetterQueue) {
      // A work queue: its own dead-letter queue catches what fails; a message waiting long is the sign here.
      this.alarm(`${name}Backlog`, {
        metric: queue.metricApproximateAgeOfOldestMessage({
          statistic: 'Maximum',
          period: Duration.minutes(5),
        }),
        threshold: 900,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description: `A message has waited more than 15 minutes in ${path}: ${watched?.meaning ?? 'its consumer is not keeping up'}. ${watched?.action ?? 'Check its consumer function’s errors, throttles and log group.'}`,
      });
      return;
    }
    this.alarm(`${name}Messages`, {
      metric: queue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      // An empty queue reports 0; no report at all is no message.
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description: `There are messages in ${path}: ${watched?.meaning ?? 'work the product could not do was dead-lettered here'}. ${watched?.action ?? 'Read the messages (SQS console: poll for messages) and the log group of the function that failed them.'} The queue keeps a message 14 days.`,
    });
  }

  private buildDashboard(props: OperationsProps, functions: ProjectFunction[], queues: Queue[]): Dashboard {
    const hour = Duration.hours(1);
    const fiveMinutes = Duration.minutes(5);
    const dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
    });
    const subtaskPercentile = (statistic: string) =>
      new GraphWidget({
        title: `Subtask duration ${statistic} (succeeded attempts, seconds)`,
        left: SUBTASK_DIMENSION_VALUES.map((subtask) =>
          productMetric(
            'subtaskDuration',
            { subtask, outcome: 'SUCCESSFUL' },
            { statistic, period: hour, label: subtask },
          ),
        ),
        width: 12,
      });
    const batch = props.batchStateMachine;
    const batchMetric = (name: string) => batch.metric(name, { statistic: 'Sum', period: fiveMinutes });
    dashboard.addWidgets(
      new TextWidget({
        markdown: `## ocp-agent-restart\nAlarms go to the SNS topic in this stack's outputs (AlarmTopicArn). Tasks: \`${TASK_API}\`.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Restarts per hour',
        left: [
          productMetric('restartTaskStarted', {}, { statistic: 'Sum', period: hour, label: 'started' }),
          productMetric(
            'restartTaskEnded',
            { outcome: 'SUCCESSFUL' },
            { statistic: 'Sum', period: hour, label: 'succeeded' },
          ),
          productMetric(
            'restartTaskEnded',
            { outcome: 'FAILED' },
            { statistic: 'Sum', period: hour, label: 'failed' },
          ),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'Running tasks, and the oldest one’s age (s)',
        left: [
          productMetric('runningTasks', {}, { statistic: 'Maximum', period: fiveMinutes, label: 'running' }),
        ],
        right: [
          productMetric(
            'oldestRunningTaskAge',
            {},
            { statistic: 'Maximum', period: fiveMinutes, label: 'oldest (s)' },
          ),
        ],
        rightAnnotations: [
          { value: MAX_TASK_RUN_SECONDS, label: 'stuck alarm' } satisfies HorizontalAnnotation,
        ],
        width: 12,
      }),
    );
    dashboard.addWidgets(subtaskPercentile('p50'), subtaskPercentile('p99'));
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Fleet rollouts in progress (started − ended over the range shown)',
        left: [
          new MathExpression({
            expression:
              'RUNNING_SUM(FILL(started, 0) - FILL(succeeded, 0) - FILL(failed, 0) - FILL(aborted, 0) - FILL(timedOut, 0))',
            usingMetrics: {
              started: batchMetric('ExecutionsStarted'),
              succeeded: batchMetric('ExecutionsSucceeded'),
              failed: batchMetric('ExecutionsFailed'),
              aborted: batchMetric('ExecutionsAborted'),
              timedOut: batchMetric('ExecutionsTimedOut'),
            },
            label: 'in progress',
            period: fiveMinutes,
          }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'Fleet rollouts started and ended',
        left: [
          batch.metricStarted({ statistic: 'Sum', period: hour, label: 'started' }),
          batch.metricSucceeded({ statistic: 'Sum', period: hour, label: 'succeeded' }),
          batch.metricFailed({ statistic: 'Sum', period: hour, label: 'failed' }),
          batch.metricAborted({ statistic: 'Sum', period: hour, label: 'aborted' }),
        ],
        width: 12,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Dead-letter and rejected-request queues: messages',
        left: queues.map((queue) =>
          queue.metricApproximateNumberOfMessagesVisible({
            statistic: 'Maximum',
            period: fiveMinutes,
            label: queue.node.path.replace(/^[^/]+\//, ''),
          }),
        ),
        width: 24,
      }),
    );
    const httpApi = props.api.httpApi;
    dashboard.addWidgets(
      new GraphWidget({
        title: 'API latency (ms)',
        left: [
          httpApi.metricLatency({ statistic: 'p50', period: fiveMinutes, label: 'p50' }),
          httpApi.metricLatency({ statistic: 'p99', period: fiveMinutes, label: 'p99' }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'API errors',
        left: [
          httpApi.metricClientError({ statistic: 'Sum', period: fiveMinutes, label: '4xx' }),
          httpApi.metricServerError({ statistic: 'Sum', period: fiveMinutes, label: '5xx' }),
        ],
        right: [httpApi.metricCount({ statistic: 'Sum', period: fiveMinutes, label: 'requests' })],
        width: 12,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Lambda duration p99 (ms)',
        left: functions.map((fn) =>
          fn.function.metricDuration({ statistic: 'p99', period: fiveMinutes, label: fn.functionId }),
        ),
        width: 12,
      }),
      new LogQueryWidget({
        title: 'Lambda cold starts per hour (init duration from the REPORT lines)',
        logGroupNames: functions.map((fn) => fn.logGroup.logGroupName),
        queryLines: [
          'filter @type = "REPORT" and ispresent(@initDuration)',
          'stats count(*) as coldStarts, round(avg(@initDuration)) as avgInitMs, round(max(@initDuration)) as maxInitMs by @log, bin(1h)',
          'sort @timestamp desc',
        ],
        width: 12,
      }),
    );
    return dashboard;
  }
}
