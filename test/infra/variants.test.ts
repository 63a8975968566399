import { App } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '#infra/create-app';
import { CONTEXT_KEYS, readSettings } from '#infra/settings';
import { ENV } from '../../functions/catalog.ts';
import {
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

  it('creates no user pool and outputs none', () => {
    expect(resourcesOfType(synth.json, 'AWS::Cognito::UserPool')).toEqual([]);
    expect(resourcesOfType(synth.json, 'AWS::Cognito::UserPoolClient')).toEqual([]);
    expect(Object.keys(synth.json.Outputs ?? {})).not.toContain('UserPoolId');
    expect(synth.stack.identity.userPool).toBeUndefined();
  });

  it('trusts the given issuer for the given audiences on every route', () => {
    const authorizers = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers.map(([, authorizer]) => authorizer.Properties?.JwtConfiguration)).toEqual([
      { Issuer: issuer, Audience: ['ocp-agent-restart', 'ocp-cli'] },
    ]);
    const [[authorizerId] = []] = authorizers;
    for (const [, route] of resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Route')) {
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
        runId: '<aws.scheduler.execution-id>',
        scheduleName: nightly.name,
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

  it('leaves no cdk-nag finding unacknowledged', () => {
    expect(unacknowledgedNagFindings(synth.app)).toEqual([]);
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

  it('refuse a restart schedule without hosts', () => {
    expect(() => settingsWith({ [CONTEXT_KEYS.restartSchedules]: [{ ...nightly, hostIds: [] }] })).toThrow(
      'hostIds',
    );
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
});
