import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS, METRICS_NAMESPACE, METRICS_SERVICE, SUBTASK_DIMENSION_VALUES } from '#core/metric-names';
import { MAX_TASK_RUN_SECONDS } from '#core/subtasks';
import { ProjectFunction } from '#infra/constructs/lambda-defaults';
import { CONTEXT_KEYS, DEFAULT_SETTINGS } from '#infra/settings';
import { LAMBDA_FUNCTIONS } from '../../functions/catalog.ts';
import {
  getAtt,
  logicalId,
  MAXIMAL_CONTEXT,
  ref,
  resourcesOfType,
  type Synthesized,
  synthesize,
  unacknowledgedNagFindings,
} from './synthesize.ts';

type Properties = Record<string, unknown>;
interface AlarmProperties extends Properties {
  AlarmDescription: unknown;
  AlarmActions: unknown[];
  OKActions: unknown[];
  Threshold: number;
  Period?: number;
  EvaluationPeriods: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  MetricName?: string;
  Namespace?: string;
  Statistic?: string;
  Dimensions?: { Name: string; Value: unknown }[];
}

let synth: Synthesized;
let maximal: Synthesized;
beforeAll(() => {
  synth = synthesize();
  maximal = synthesize({
    context: {
      ...MAXIMAL_CONTEXT,
      [CONTEXT_KEYS.alarmEmail]: 'oncall@example.com',
      [CONTEXT_KEYS.failedRestartsThreshold]: 5,
      [CONTEXT_KEYS.failedRestartsWindowMinutes]: 30,
    },
  });
});

const alarmsOf = (s: Synthesized) =>
  resourcesOfType(s.json, 'AWS::CloudWatch::Alarm').map(
    ([id, r]) => [id, r.Properties as AlarmProperties] as const,
  );
const alarmNamed = (s: Synthesized, name: string): AlarmProperties => {
  const alarm = s.stack.operations.alarms.get(name);
  if (!alarm) throw new Error(`No alarm ${name}`);
  return s.json.Resources[logicalId(s.stack, alarm)]!.Properties as AlarmProperties;
};
const topicRef = (s: Synthesized) => ref(logicalId(s.stack, s.stack.operations.topic));
/** The alarm's description with its references flattened: the text an operator reads. */
const text = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : JSON.stringify(value)
        .replace(/\{"Ref":"([^"]+)"\}/g, '<$1>')
        .replace(/","|\["|"\]|\{"Fn::Join":\["",|\]\}/g, '');
const dimensionsOf = (alarm: AlarmProperties) =>
  Object.fromEntries((alarm.Dimensions ?? []).map(({ Name, Value }) => [Name, Value]));
const idOf = (s: Synthesized, construct: IConstruct) => logicalId(s.stack, construct);
/** The one resource of a type: its logical id and properties. */
const onlyResource = (s: Synthesized, type: string): [string, { Properties: Properties }] => {
  const found = resourcesOfType(s.json, type);
  expect(found, type).toHaveLength(1);
  const [id, resource] = found[0]!;
  return [id, { Properties: (resource.Properties ?? {}) as Properties }];
};

describe('the alarm topic', () => {
  it('is encrypted with a rotated customer managed key that CloudWatch may use, and requires TLS', () => {
    const [topicId, topic] = onlyResource(synth, 'AWS::SNS::Topic');
    const [keyId, key] = onlyResource(synth, 'AWS::KMS::Key');
    expect(topic.Properties.KmsMasterKeyId).toEqual(getAtt(keyId, 'Arn'));
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const statements = (key.Properties.KeyPolicy as { Statement: Properties[] }).Statement;
    expect(statements).toHaveLength(2);
    // KMS's default: the account's IAM policies govern the key.
    expect(statements[0]).toMatchObject({ Action: 'kms:*', Effect: 'Allow', Resource: '*' });
    expect(statements[1]).toEqual({
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Resource: '*',
    });
    const [, topicPolicy] = onlyResource(synth, 'AWS::SNS::TopicPolicy');
    expect(JSON.stringify(topicPolicy.Properties)).toContain('"aws:SecureTransport":"false"');
    expect(synth.json.Outputs?.AlarmTopicArn?.Value).toEqual(ref(topicId));
  });

  it('e-mails the alarmEmail address, and no one by default', () => {
    expect(resourcesOfType(synth.json, 'AWS::SNS::Subscription')).toEqual([]);
    const [, subscription] = onlyResource(maximal, 'AWS::SNS::Subscription');
    expect(subscription.Properties).toMatchObject({
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: topicRef(maximal),
    });
  });

  it('notifies the topic of every alarm, and of its recovery', () => {
    const alarms = alarmsOf(synth);
    expect(alarms.length).toBeGreaterThan(30);
    for (const [, alarm] of alarms) {
      expect(alarm.AlarmActions).toEqual([topicRef(synth)]);
      expect(alarm.OKActions).toEqual([topicRef(synth)]);
      expect(text(alarm.AlarmDescription).length).toBeGreaterThan(120);
      expect(alarm.TreatMissingData).toMatch(/^(notBreaching|breaching)$/);
    }
  });

  it('leaves cdk-nag nothing to report, also with a subscription', () => {
    expect(unacknowledgedNagFindings(maximal.app)).toEqual([]);
  });
});

describe('restart alarms', () => {
  it('fires on the default count of FAILED restart tasks within the default window', () => {
    const alarm = alarmNamed(synth, 'RestartsFailing');
    expect(alarm).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRICS.restartTaskEnded.name,
      Statistic: 'Sum',
      Period: DEFAULT_SETTINGS.alarms.failedRestartsWindowMinutes * 60,
      Threshold: DEFAULT_SETTINGS.alarms.failedRestartsThreshold,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(dimensionsOf(alarm)).toEqual({ service: METRICS_SERVICE, outcome: 'FAILED' });
    expect(text(alarm.AlarmDescription)).toMatch(/GET \/api\/v2\/tasks\/instances/);
  });

  it('takes its threshold and window from context', () => {
    expect(alarmNamed(maximal, 'RestartsFailing')).toMatchObject({ Threshold: 5, Period: 1800 });
    expect(alarmNamed(maximal, 'RestartWorkflowExecutionsFailed')).toMatchObject({
      Threshold: 5,
      Period: 1800,
    });
  });

  it('fires when the oldest running task outlives the sum of its subtasks’ timeouts, or the sweep stops', () => {
    const alarm = alarmNamed(synth, 'TaskStuckRunning');
    expect(alarm).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRICS.oldestRunningTaskAge.name,
      Statistic: 'Maximum',
      Period: 60,
      Threshold: MAX_TASK_RUN_SECONDS,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
    });
    expect(dimensionsOf(alarm)).toEqual({ service: METRICS_SERVICE });
  });
});

describe('alarms on every part', () => {
  it('watches every queue of the stack: a message in a dead-letter or rejected-requests queue, a backlog in a work queue', () => {
    for (const s of [synth, maximal]) {
      const queues = resourcesOfType(s.json, 'AWS::SQS::Queue');
      expect(queues.length).toBeGreaterThanOrEqual(6);
      for (const [queueId, queue] of queues) {
        const watching = alarmsOf(s).filter(([, alarm]) =>
          JSON.stringify(alarm.Dimensions ?? []).includes(JSON.stringify(getAtt(queueId, 'QueueName'))),
        );
        const isWorkQueue = (queue.Properties as Properties).RedrivePolicy !== undefined;
        expect(watching, `queue ${queueId}`).toHaveLength(1);
        expect(watching[0]![1]).toMatchObject(
          isWorkQueue
            ? { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 900, Period: 300 }
            : {
                MetricName: 'ApproximateNumberOfMessagesVisible',
                Threshold: 1,
                Period: 300,
                Statistic: 'Maximum',
              },
        );
        expect(watching[0]![1].TreatMissingData).toBe('notBreaching');
      }
    }
  });

  it('describes each of the product’s queues for what it holds', () => {
    const rejected = alarmNamed(synth, 'RestartTriggersRejectedRequestsMessages');
    expect(text(rejected.AlarmDescription)).toMatch(/refused, each with its reason/);
    const sweepDlq = alarmNamed(synth, 'ExecutionReconcilerSweepScheduleDeadLetterQueueMessages');
    expect(text(sweepDlq.AlarmDescription)).toMatch(/safety net/);
  });

  it('watches every function for errors and throttles, naming its log group', () => {
    const functions = synth.stack.node
      .findAll()
      .filter((c): c is ProjectFunction => c instanceof ProjectFunction);
    expect(functions.map((fn) => fn.functionId).sort()).toEqual(Object.keys(LAMBDA_FUNCTIONS).sort());
    for (const fn of functions) {
      const functionRef = ref(idOf(synth, fn.function));
      const watching = alarmsOf(synth).filter(([, alarm]) =>
        (alarm.Dimensions ?? []).some(
          (d) => d.Name === 'FunctionName' && JSON.stringify(d.Value) === JSON.stringify(functionRef),
        ),
      );
      expect(watching.map(([, alarm]) => alarm.MetricName).sort()).toEqual(['Errors', 'Throttles']);
      for (const [, alarm] of watching) {
        expect(alarm).toMatchObject({ Namespace: 'AWS/Lambda', Statistic: 'Sum', Period: 300, Threshold: 1 });
        expect(JSON.stringify(alarm.AlarmDescription)).toContain(
          JSON.stringify(ref(idOf(synth, fn.logGroup))),
        );
      }
    }
  });

  it('watches both state machines for failed and timed-out executions', () => {
    for (const [machine, stateMachine] of [
      ['RestartWorkflow', synth.stack.workflow.stateMachine],
      ['BatchRollout', synth.stack.rollout.stateMachine],
    ] as const) {
      for (const [kind, metric] of [
        ['Failed', 'ExecutionsFailed'],
        ['TimedOut', 'ExecutionsTimedOut'],
      ] as const) {
        const alarm = alarmNamed(synth, `${machine}Executions${kind}`);
        expect(alarm).toMatchObject({ Namespace: 'AWS/States', MetricName: metric, Statistic: 'Sum' });
        expect(dimensionsOf(alarm)).toEqual({ StateMachineArn: ref(idOf(synth, stateMachine)) });
      }
    }
    expect(alarmNamed(synth, 'BatchRolloutExecutionsFailed').Threshold).toBe(1);
  });

  it('watches the API for 5xx answers', () => {
    const alarm = alarmNamed(synth, 'Api5xx');
    expect(alarm).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
    });
    expect(dimensionsOf(alarm)).toEqual({ ApiId: ref(idOf(synth, synth.stack.api.httpApi)) });
  });
});

describe('the dashboard', () => {
  // The body is a Fn::Join of text and references: its text is enough to find each widget's metrics.
  const widgets = () => text(onlyResource(synth, 'AWS::CloudWatch::Dashboard')[1].Properties.DashboardBody);

  it('shows restarts, subtask durations per subtask, rollouts, queues, the API and the functions', () => {
    const body = widgets();
    for (const title of [
      'Restarts per hour',
      'Subtask duration p50',
      'Subtask duration p99',
      'Fleet rollouts in progress',
      'Dead-letter and rejected-request queues',
      'API latency',
      'API errors',
      'Lambda duration p99',
      'Lambda cold starts',
    ]) {
      expect(body).toContain(title);
    }
    for (const name of [
      METRICS.restartTaskStarted.name,
      METRICS.restartTaskEnded.name,
      METRICS.subtaskDuration.name,
      METRICS.runningTasks.name,
      METRICS.oldestRunningTaskAge.name,
    ]) {
      expect(body).toContain(name);
    }
    for (const subtask of SUBTASK_DIMENSION_VALUES) expect(body).toContain(`\\"${subtask}\\"`);
    expect(body).toContain('RUNNING_SUM');
    expect(body).toContain('@initDuration');
  });
});
