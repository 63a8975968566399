import { App } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  describeSchedule,
  MAX_SCHEDULE_HOSTS,
  SCHEDULE_DESCRIPTION_MAX_LENGTH,
} from '#core/scheduled-restart';
import { routeKey, STATIC_ROUTES } from '#http/routes';
import { createApp } from '#infra/create-app';
import { CONTEXT_KEYS, readSettings } from '#infra/settings';
import { ENV, LAMBDA_FUNCTIONS } from '../../functions/catalog.ts';
import {
  canonical,
  logicalId,
  resourcesOfType,
  roleStatements,
  type Synthesized,
  synthesize,
  unacknowledgedNagFindings,
} from './synthesize.ts';

const nightly = {
  name: 'nightly',
  expression: 'cron(0 3 ? * SUN *)',
  timeZone: 'Asia/Shanghai',
  hostIds: [101, 102],
  reason: 'Weekly agent refresh',
  rollout: { maxConcurrency: '50%', maxErrors: 0, healthCheckSeconds: 30 },
};

describe('with an external OIDC issuer and a restart schedule', () => {
  const issuer = 'https://login.example.com/realms/ocp';
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({
      context: {
        [CONTEXT_KEYS.oidcIssuer]: issuer,
        [CONTEXT_KEYS.oidcAudience]: 'ocp-agent-restart, ocp-cli',
        [CONTEXT_KEYS.permissionsClaim]: 'groups',
        [CONTEXT_KEYS.managedInstanceTagKey]: 'team',
        [CONTEXT_KEYS.managedInstanceTagValue]: 'ob-ops',
        [CONTEXT_KEYS.restartSchedules]: JSON.stringify([nightly]),
      },
    });
  });

  it('gives the console no hosted login: operators paste a token of the issuer', () => {
    expect(resourcesOfType(synth.json, 'AWS::Cognito::UserPoolDomain')).toEqual([]);
    const [[, fn] = []] = resourcesOfType(synth.json, 'AWS::Lambda::Function').filter(
      ([, candidate]) => candidate.Properties?.Description === LAMBDA_FUNCTIONS.consoleAssets.description,
    );
    const variables =
      (fn?.Properties?.Environment as { Variables: Record<string, string> } | undefined)?.Variables ?? {};
    expect(JSON.parse(variables[ENV.consoleConfig] ?? '')).toEqual({
      permissionsClaim: 'groups',
      loopbackSignIn: false,
    });
  });

  it('creates no user pool and outputs none', () => {
    expect(resourcesOfType(synth.json, 'AWS::Cognito::UserPool')).toEqual([]);
    expect(resourcesOfType(synth.json, 'AWS::Cognito::UserPoolClient')).toEqual([]);
    expect(Object.keys(synth.json.Outputs ?? {})).not.toContain('UserPoolId');
    expect(synth.stack.identity.userPool).toBeUndefined();
  });

  it('trusts the given issuer for the given audiences on every route but the OpenAPI document', () => {
    const authorizers = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers.map(([, authorizer]) => authorizer.Properties?.JwtConfiguration)).toEqual([
      { Issuer: issuer, Audience: ['ocp-agent-restart', 'ocp-cli'] },
    ]);
    const [[authorizerId] = []] = authorizers;
    const routes = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Route');
    for (const [, route] of routes.filter(
      ([, route]) =>
        !Object.values(STATIC_ROUTES)
          .map(routeKey)
          .includes(route.Properties?.RouteKey as string),
    )) {
      expect(route.Properties).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: authorizerId },
      });
    }
  });

  it('tells the api function which claim holds the permissions', () => {
    const fn = synth.stack.api.handler.function;
    const properties = synth.json.Resources[logicalId(synth.stack, fn)]?.Properties;
    expect(properties).toMatchObject({ Environment: { Variables: { [ENV.permissionsClaim]: 'groups' } } });
  });

  it('sends commands only to instances carrying the configured tag', () => {
    const statements = roleStatements(
      synth.json,
      logicalId(synth.stack, synth.stack.workflow.runSubtask.role),
    );
    const conditions = statements
      .filter((statement) => statement.Condition)
      .map((statement) => statement.Condition);
    expect(conditions).toEqual([{ StringEquals: { 'ssm:resourceTag/team': 'ob-ops' } }]);
  });

  it('invokes restart-trigger on the schedule with its hosts and a per-run idempotency id', () => {
    const { handler, trigger, schedulerRole } = synth.stack.restartTriggers;
    if (!schedulerRole) throw new Error('A schedule needs the scheduler role');
    const schedules = resourcesOfType(synth.json, 'AWS::Scheduler::Schedule').map(
      ([, schedule]) => schedule.Properties,
    );
    expect(schedules).toEqual([
      expect.objectContaining({
        Description: describeSchedule(nightly.name, nightly.hostIds),
        ScheduleExpression: nightly.expression,
        ScheduleExpressionTimezone: nightly.timeZone,
        Target: expect.objectContaining({
          Arn: { 'Fn::GetAtt': [logicalId(synth.stack, handler.function), 'Arn'] },
          RoleArn: { 'Fn::GetAtt': [logicalId(synth.stack, schedulerRole), 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [logicalId(synth.stack, trigger.deadLetterQueue), 'Arn'] },
          },
        }),
      }),
    ]);
    const [schedule] = schedules;
    const input = JSON.parse((schedule?.Target as { Input?: string } | undefined)?.Input ?? '');
    expect(input).toEqual({
      scheduledRestart: {
        hostIds: nightly.hostIds,
        reason: nightly.reason,
        runId: '<aws.scheduler.scheduled-time>',
        scheduleName: nightly.name,
        rollout: nightly.rollout,
      },
    });
    expect(roleStatements(synth.json, logicalId(synth.stack, schedulerRole))).toEqual([
      {
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: [{ 'Fn::GetAtt': [logicalId(synth.stack, handler.function), 'Arn'] }],
      },
      {
        Effect: 'Allow',
        Action: ['sqs:SendMessage'],
        Resource: [{ 'Fn::GetAtt': [logicalId(synth.stack, trigger.deadLetterQueue), 'Arn'] }],
      },
    ]);
  });

  it('starts each run as a batch: no queue or event source mapping feeds restart-trigger', () => {
    const { handler } = synth.stack.restartTriggers;
    const fn = synth.json.Resources[logicalId(synth.stack, handler.function)]?.Properties ?? {};

    expect(
      resourcesOfType(synth.json, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties),
    ).not.toContainEqual(
      expect.objectContaining({ FunctionName: { Ref: logicalId(synth.stack, handler.function) } }),
    );
    expect(fn).toMatchObject({
      Environment: {
        Variables: {
          [ENV.batchStateMachineArn]: { Ref: logicalId(synth.stack, synth.stack.rollout.stateMachine) },
        },
      },
    });
  });

  it('lets restart-trigger send only to the rejected-requests queue and its dead-letter queue', () => {
    const { handler, trigger, rejectedRequests } = synth.stack.restartTriggers;
    const arnOf = (construct: Parameters<typeof logicalId>[1]) => ({
      'Fn::GetAtt': [logicalId(synth.stack, construct), 'Arn'],
    });
    const sqsStatements = roleStatements(synth.json, logicalId(synth.stack, handler.role)).filter(
      (statement) => statement.Action.some((action) => action.startsWith('sqs:')),
    );

    expect(canonical(sqsStatements)).toEqual(
      canonical([
        { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [arnOf(rejectedRequests)] },
        {
          Effect: 'Allow',
          Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
          Resource: [arnOf(trigger.deadLetterQueue)],
        },
      ]),
    );
  });

  it('leaves no cdk-nag finding unacknowledged', () => {
    expect(unacknowledgedNagFindings(synth.app)).toEqual([]);
  });
});

describe(`with a schedule of ${MAX_SCHEDULE_HOSTS} hosts`, () => {
  const hostIds = Array.from({ length: MAX_SCHEDULE_HOSTS }, (_, i) => i + 1);
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({
      context: {
        [CONTEXT_KEYS.restartSchedules]: JSON.stringify([
          { name: 'all', expression: 'cron(0 3 ? * SUN *)', hostIds },
        ]),
      },
    });
  });

  it('describes the schedule within Scheduler’s limit and gives its input every host', () => {
    const [[, schedule] = []] = resourcesOfType(synth.json, 'AWS::Scheduler::Schedule');
    const properties = schedule?.Properties as { Description: string; Target: { Input: string } };

    expect(properties.Description.length).toBeLessThanOrEqual(SCHEDULE_DESCRIPTION_MAX_LENGTH);
    expect(properties.Description).toMatch(
      /^Restarts the OCP agent on 1000 hosts \(schedule all\): 1, 2, 3, /,
    );
    expect(JSON.parse(properties.Target.Input).scheduledRestart.hostIds).toEqual(hostIds);
  });

  it('leaves no cdk-nag finding unacknowledged', () => {
    expect(unacknowledgedNagFindings(synth.app)).toEqual([]);
  });
});

describe('without a schedule', () => {
  it('creates no schedule and no scheduler role', () => {
    const synth = synthesize();
    const fn = synth.stack.restartTriggers.handler.function;

    expect(synth.stack.restartTriggers.schedulerRole).toBeUndefined();
    expect(resourcesOfType(synth.json, 'AWS::Scheduler::Schedule')).toEqual([]);
    const properties = synth.json.Resources[logicalId(synth.stack, fn)]?.Properties ?? {};
    const { Variables: variables = {} } = (properties.Environment ?? {}) as {
      Variables?: Record<string, unknown>;
    };
    expect(Object.keys(variables)).toContain(ENV.rejectedQueueUrl);
  });
});

describe('the cdk-nag check', () => {
  it('reports a finding nobody acknowledged, and synthesis fails on it', () => {
    const { app, stack } = createApp({ context: { 'aws:cdk:bundling-stacks': [] } });
    new Queue(stack, 'UnreviewedQueue');

    expect(unacknowledgedNagFindings(app)).toEqual(
      expect.arrayContaining([`AwsSolutions-SQS4 (error) at ${stack.node.path}/UnreviewedQueue/Resource`]),
    );
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });
});

describe('deployment settings', () => {
  const settingsWith = (context: Record<string, unknown>) => readSettings(new App({ context }).node);

  it('refuse an OIDC issuer without an audience', () => {
    expect(() => settingsWith({ [CONTEXT_KEYS.oidcIssuer]: 'https://issuer.example.com' })).toThrow(
      CONTEXT_KEYS.oidcAudience,
    );
  });

  it('refuse an issuer that is not an https URL', () => {
    expect(() =>
      settingsWith({
        [CONTEXT_KEYS.oidcIssuer]: 'http://issuer.example.com',
        [CONTEXT_KEYS.oidcAudience]: 'x',
      }),
    ).toThrow('https://');
  });

  it('take a hosted-login domain prefix as Cognito allows it, and refuse one it does not', () => {
    expect(settingsWith({ [CONTEXT_KEYS.loginDomainPrefix]: 'ob-ops-console' }).loginDomainPrefix).toBe(
      'ob-ops-console',
    );
    for (const prefix of ['Ob-Ops', '-ops', 'ops-', 'my-cognito-login', 'aws-ops', 'x'.repeat(64), 'a_b']) {
      expect(() => settingsWith({ [CONTEXT_KEYS.loginDomainPrefix]: prefix })).toThrow(
        CONTEXT_KEYS.loginDomainPrefix,
      );
    }
  });

  it('refuse a restart schedule without hosts', () => {
    expect(() => settingsWith({ [CONTEXT_KEYS.restartSchedules]: [{ ...nightly, hostIds: [] }] })).toThrow(
      'hostIds',
    );
  });

  it('refuse a restart schedule that names a host twice', () => {
    expect(() =>
      settingsWith({ [CONTEXT_KEYS.restartSchedules]: [{ ...nightly, hostIds: [101, 102, 101] }] }),
    ).toThrow('nightly: hostIds names host 101 more than once');
  });

  it(`refuse a restart schedule of more than ${MAX_SCHEDULE_HOSTS} hosts`, () => {
    const hostIds = Array.from({ length: MAX_SCHEDULE_HOSTS + 1 }, (_, i) => i + 1);
    expect(() => settingsWith({ [CONTEXT_KEYS.restartSchedules]: [{ ...nightly, hostIds }] })).toThrow(
      `hostIds must be 1 to ${MAX_SCHEDULE_HOSTS} positive integers`,
    );
  });

  it('refuse what EventBridge Scheduler or restart-trigger would refuse, naming the limit', () => {
    const refused = (change: Record<string, unknown>) => () =>
      settingsWith({ [CONTEXT_KEYS.restartSchedules]: [{ ...nightly, ...change }] });

    expect(refused({ expression: `cron(${'0 '.repeat(130)})` })).toThrow('at most 256 characters');
    expect(refused({ timeZone: 'x'.repeat(51) })).toThrow('1 to 50 characters');
    expect(refused({ timeZone: '' })).toThrow('1 to 50 characters');
    expect(refused({ reason: 'x'.repeat(1025) })).toThrow('at most 1024 characters');
    expect(
      settingsWith({ [CONTEXT_KEYS.restartSchedules]: [{ ...nightly, reason: 'x'.repeat(1024) }] })
        .restartSchedules[0]?.reason,
    ).toHaveLength(1024);
  });

  it('read a restart schedule’s rollout, and refuse one the batch API would refuse, naming the field', () => {
    expect(settingsWith({ [CONTEXT_KEYS.restartSchedules]: [nightly] }).restartSchedules[0]?.rollout).toEqual(
      nightly.rollout,
    );
    const refused = (rollout: unknown) => () =>
      settingsWith({ [CONTEXT_KEYS.restartSchedules]: [{ ...nightly, rollout }] });

    expect(refused({ maxConcurrency: 0 })).toThrow(
      'CDK context restartSchedules: nightly: Invalid schedule: rollout.maxConcurrency must be a whole number of hosts from 1',
    );
    expect(refused({ healthCheckSeconds: 601 })).toThrow('rollout.healthCheckSeconds must be');
    expect(refused({ dryRun: true })).toThrow('rollout has unknown field "dryRun"');
    expect(refused('fast')).toThrow('rollout must be a JSON object');
  });

  it('refuse two restart schedules of one name', () => {
    expect(() => settingsWith({ [CONTEXT_KEYS.restartSchedules]: [nightly, nightly] })).toThrow(
      'unique name',
    );
  });

  it('read the accounts allowed to send restart requests', () => {
    expect(
      settingsWith({ [CONTEXT_KEYS.eventPublisherAccounts]: '111111111111, 222222222222' })
        .eventPublisherAccounts,
    ).toEqual(['111111111111', '222222222222']);
    expect(settingsWith({}).eventPublisherAccounts).toEqual([]);
  });

  it('refuse a publisher that is not an account id', () => {
    expect(() => settingsWith({ [CONTEXT_KEYS.eventPublisherAccounts]: '*' })).toThrow(
      'not an AWS account id',
    );
  });

  it('create no schedule unless asked', () => {
    expect(settingsWith({}).restartSchedules).toEqual([]);
  });

  it('read numbers given on the command line as text', () => {
    const settings = settingsWith({ [CONTEXT_KEYS.apiRateLimit]: '5', [CONTEXT_KEYS.apiBurstLimit]: 10 });
    expect(settings.apiThrottle).toEqual({ rateLimit: 5, burstLimit: 10 });
  });

  it('read the alarm settings, with their defaults', () => {
    expect(settingsWith({}).alarms).toEqual({ failedRestartsThreshold: 3, failedRestartsWindowMinutes: 15 });
    expect(
      settingsWith({
        [CONTEXT_KEYS.alarmEmail]: ' oncall@example.com ',
        [CONTEXT_KEYS.failedRestartsThreshold]: '10',
        [CONTEXT_KEYS.failedRestartsWindowMinutes]: 60,
      }).alarms,
    ).toEqual({ email: 'oncall@example.com', failedRestartsThreshold: 10, failedRestartsWindowMinutes: 60 });
  });

  it('refuse alarm settings CloudWatch or SNS could not use, naming the key', () => {
    expect(() => settingsWith({ [CONTEXT_KEYS.alarmEmail]: 'oncall' })).toThrow(
      `${CONTEXT_KEYS.alarmEmail} must be an e-mail address`,
    );
    expect(() => settingsWith({ [CONTEXT_KEYS.failedRestartsThreshold]: '2.5' })).toThrow(
      `${CONTEXT_KEYS.failedRestartsThreshold} must be a whole number`,
    );
    expect(() => settingsWith({ [CONTEXT_KEYS.failedRestartsThreshold]: 0 })).toThrow('positive number');
    expect(() => settingsWith({ [CONTEXT_KEYS.failedRestartsWindowMinutes]: 1441 })).toThrow(
      'from 1 to 1440',
    );
  });
});
