import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CfnLintFinding,
  cfnLint,
  disallowedCfnLintFindings,
  MAXIMAL_CONTEXT,
  resourcesOfType,
  retainedResourcesWithFixedNames,
  type Synthesized,
  synthesize,
  type TemplateJson,
  unacknowledgedNagFindings,
} from './synthesize.ts';

let synth: Synthesized;
let findings: CfnLintFinding[];
beforeAll(() => {
  synth = synthesize({ context: MAXIMAL_CONTEXT });
  findings = cfnLint(synth.json);
});

describe('the largest deployment the settings allow', () => {
  it('uses the context given: the issuer, the publisher accounts, a schedule', () => {
    const [[, authorizer] = []] = resourcesOfType(synth.json, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizer?.Properties?.JwtConfiguration).toMatchObject({ Issuer: MAXIMAL_CONTEXT.oidcIssuer });
    const denied = resourcesOfType(synth.json, 'AWS::Events::EventBusPolicy')
      .map(([, policy]) => policy.Properties?.Statement as { Effect: string; Condition?: unknown })
      .find((statement) => statement.Effect === 'Deny');
    expect(denied?.Condition).toEqual({
      StringNotEquals: {
        'aws:PrincipalAccount': [{ Ref: 'AWS::AccountId' }, '111111111111', '222222222222'],
      },
    });
    const schedules = resourcesOfType(synth.json, 'AWS::Scheduler::Schedule');
    expect(schedules.length).toBeGreaterThan(0);
    const [[, schedule] = []] = schedules;
    const target = schedule?.Properties?.Target as { Input?: string } | undefined;
    const input = JSON.parse(target?.Input ?? '{}');
    expect(input.scheduledRestart).toMatchObject({
      rollout: JSON.parse(MAXIMAL_CONTEXT.restartSchedules)[0].rollout,
    });
    expect(input.scheduledRestart.hostIds).toHaveLength(1000);
  });

  it('finds no cfn-lint error, and no warning but the allowed ones', () => {
    expect(disallowedCfnLintFindings(findings)).toEqual([]);
  });

  it('leaves behind no resource under a fixed name', () => {
    expect(retainedResourcesWithFixedNames(synth.json)).toEqual([]);
  });

  it('leaves no cdk-nag finding unacknowledged', () => {
    expect(unacknowledgedNagFindings(synth.app)).toEqual([]);
  });
});

describe('the template checks', () => {
  const logGroup = (properties: Record<string, unknown>, deletionPolicy?: string) => ({
    Type: 'AWS::Logs::LogGroup',
    Properties: properties,
    ...(deletionPolicy ? { DeletionPolicy: deletionPolicy, UpdateReplacePolicy: deletionPolicy } : {}),
  });

  it('report a kept resource whose name is fixed, and no name that is new per stack or left to CloudFormation', () => {
    const stackUuid = { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] };
    const template: TemplateJson = {
      Resources: {
        Fixed: logGroup({ LogGroupName: 'ocp-logs' }, 'Retain'),
        PerStackName: logGroup(
          { LogGroupName: { 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, 'logs']] } },
          'RetainExceptOnCreate',
        ),
        PerStackId: logGroup({ LogGroupName: { 'Fn::Join': ['-', ['logs', stackUuid]] } }, 'Retain'),
        Generated: logGroup({ RetentionInDays: 90 }, 'Retain'),
        Deleted: logGroup({ LogGroupName: 'deleted-with-the-stack' }),
      },
    };

    expect(retainedResourcesWithFixedNames(template)).toEqual([
      'Fixed (AWS::Logs::LogGroup) LogGroupName: "ocp-logs"',
      'PerStackName (AWS::Logs::LogGroup) LogGroupName: {"Fn::Join":["-",[{"Ref":"AWS::StackName"},"logs"]]}',
    ]);
  });

  it('report what cfn-lint finds wrong', () => {
    const template: TemplateJson = { Resources: { Logs: logGroup({ RetentionInDays: 4 }) } };

    expect(disallowedCfnLintFindings(cfnLint(template))).toEqual([
      expect.stringMatching(/^E3030 \(Error\) at Resources\/Logs\/Properties\/RetentionInDays: /),
    ]);
  });

  it('fail loudly, saying how to install cfn-lint, where it is missing', () => {
    expect(() => cfnLint({ Resources: {} }, { PATH: '/nonexistent' })).toThrow('pip install cfn-lint');
  });
});
