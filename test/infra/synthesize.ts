import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { createApp } from '#infra/create-app';
import type { OcpAgentRestartStack } from '#infra/stack';

export interface Synthesized {
  app: App;
  stack: OcpAgentRestartStack;
  template: Template;
  /** The synthesized template as JSON, for walking all resources of a type. */
  json: TemplateJson;
}

export interface TemplateJson {
  Resources: Record<string, CfnResourceJson>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export interface CfnResourceJson {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
}

/**
 * Builds the app as `cdk synth` does (cdk-nag included) and synthesizes it. Without `bundle`, the
 * functions' code is not bundled (faster; the template is the same apart from asset hashes).
 */
export function synthesize(
  options: { context?: Record<string, unknown>; bundle?: boolean } = {},
): Synthesized {
  const context = { ...options.context, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) };
  const { app, stack } = createApp({ context });
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() as TemplateJson };
}

/** cdk-nag's AWS Solutions findings (errors and warnings) left unacknowledged, as "rule at path". */
export function unacknowledgedNagFindings(app: App): string[] {
  const report = new AwsSolutionsChecks().validateScope(app);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map(
      (resource) => `${violation.ruleName} (${violation.severity}) at ${resource.constructPath}`,
    ),
  );
}

/** Violations in the validation report that `cdk synth` wrote into the cloud assembly. */
export function assemblyValidationViolations(app: App): unknown[] {
  const assembly = app.synth();
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
    pluginReports: { violations?: unknown[] }[];
  };
  return report.pluginReports.flatMap((plugin) => plugin.violations ?? []);
}

/** The logical id CloudFormation knows a construct's resource by. */
export function logicalId(stack: Stack, construct: IConstruct): string {
  const resource = construct.node.defaultChild ?? construct;
  return stack.getLogicalId(resource as Parameters<Stack['getLogicalId']>[0]);
}

export const ref = (id: string) => ({ Ref: id });
export const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });

/** Resources of one type, by logical id. */
export function resourcesOfType(json: TemplateJson, type: string): [string, CfnResourceJson][] {
  return Object.entries(json.Resources).filter(([, resource]) => resource.Type === type);
}

export interface Statement {
  Effect: string;
  Action: string[];
  Resource: unknown[];
  Condition?: unknown;
}

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

function normalize(statement: Record<string, unknown>): Statement {
  return {
    Effect: String(statement.Effect),
    Action: asArray(statement.Action as string | string[]),
    Resource: asArray(statement.Resource),
    ...(statement.Condition ? { Condition: statement.Condition } : {}),
  };
}

/** Every statement of every AWS::IAM::Policy attached to the role. */
export function roleStatements(json: TemplateJson, roleLogicalId: string): Statement[] {
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, policy]) =>
      asArray(policy.Properties?.Roles as unknown[]).some(
        (role) => JSON.stringify(role) === JSON.stringify(ref(roleLogicalId)),
      ),
    )
    .flatMap(([, policy]) => {
      const document = policy.Properties?.PolicyDocument as { Statement: Record<string, unknown>[] };
      return document.Statement.map(normalize);
    });
}

/** Every statement of every policy document in the template (identity, resource and trust policies). */
export function allStatements(json: TemplateJson): { resource: string; statement: Statement }[] {
  const found: { resource: string; statement: Statement }[] = [];
  const visit = (resource: string, value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(resource, item);
    } else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (Array.isArray(record.Statement)) {
        for (const statement of record.Statement) {
          found.push({ resource, statement: normalize(statement as Record<string, unknown>) });
        }
      }
      for (const child of Object.values(record)) visit(resource, child);
    }
  };
  for (const [id, resource] of Object.entries(json.Resources)) visit(id, resource.Properties);
  return found;
}

/** Order-insensitive form of a statement list, for equality assertions. */
export function canonical(statements: Statement[]): string[] {
  return statements
    .map((statement) =>
      JSON.stringify({
        ...statement,
        Action: [...statement.Action].sort(),
        Resource: statement.Resource.map((resource) => JSON.stringify(resource)).sort(),
      }),
    )
    .sort();
}

/** A CloudFormation value as short text: "GetAtt(Id.Attr)", "Ref(Id)", or the string itself. */
export function shortForm(value: unknown): string {
  if (typeof value === 'string') return value;
  const record = value as Record<string, unknown> | null;
  if (record && Array.isArray(record['Fn::GetAtt'])) return `GetAtt(${record['Fn::GetAtt'].join('.')})`;
  if (record && typeof record.Ref === 'string') return `Ref(${record.Ref})`;
  throw new Error(`No short form for ${JSON.stringify(value)}`);
}

/** A string value with its references in short form: Fn::Join parts joined, Ref and GetAtt as shortForm. */
export function joinedText(value: unknown): string {
  const join = (value as { 'Fn::Join'?: [string, unknown[]] } | null)?.['Fn::Join'];
  return join ? join[1].map(joinedText).join(join[0]) : shortForm(value);
}

/** The state machine definition as deployed: the ASL text with its substitutions applied (in short form). */
export function deployedDefinition(
  definitionString: string,
  substitutions: Record<string, unknown>,
): { StartAt: string; States: Record<string, Record<string, unknown>> } {
  const text = definitionString.replace(/\$\{(\w+)\}/g, (placeholder, name: string) => {
    if (!(name in substitutions)) throw new Error(`No substitution for ${placeholder}`);
    return shortForm(substitutions[name]);
  });
  return JSON.parse(text);
}

/**
 * The largest deployment the settings allow: an external OIDC issuer, publisher accounts, a custom
 * instance tag and throttle, and a schedule of 1,000 hosts.
 */
export const MAXIMAL_CONTEXT = {
  oidcIssuer: 'https://login.example.com/realms/ocp',
  oidcAudience: 'ocp-agent-restart, ocp-cli',
  permissionsClaim: 'groups',
  managedInstanceTagKey: 'team',
  managedInstanceTagValue: 'ob-ops',
  apiThrottleRateLimit: 5,
  apiThrottleBurstLimit: 10,
  eventPublisherAccounts: '111111111111, 222222222222',
  restartSchedules: JSON.stringify([
    {
      name: 'fleet',
      expression: 'cron(0 3 ? * SUN *)',
      timeZone: 'Asia/Shanghai',
      hostIds: Array.from({ length: 1000 }, (_, index) => index + 1),
      reason: 'Weekly agent refresh',
      rollout: { maxConcurrency: '10%', maxErrors: 5, healthCheckSeconds: 600 },
    },
  ]),
} as const;

/** One cfn-lint finding: its rule, level and where in the template. */
export interface CfnLintFinding {
  rule: string;
  level: string;
  /** e.g. "Resources/TaskTable/Properties/TableName" */
  path: string;
  message: string;
}

/**
 * cfn-lint warnings that are not defects of the template, each with the reason. Every other
 * warning, and every error, fails the stack tests.
 */
export const ALLOWED_CFN_LINT_WARNINGS: Readonly<Record<string, string>> = {
  W3005:
    'CDK makes a function depend on its role (and the role’s default policy) beside the GetAtt of the role it already has: a redundant DependsOn, harmless.',
};

/**
 * Runs cfn-lint (installed with Python: `pip install cfn-lint`) on the template and returns its
 * findings. Throws, naming how to install it, when cfn-lint is not on the PATH.
 */
export function cfnLint(json: TemplateJson, env: NodeJS.ProcessEnv = process.env): CfnLintFinding[] {
  const dir = mkdtempSync(join(tmpdir(), 'cfn-lint-'));
  try {
    const file = join(dir, 'template.json');
    writeFileSync(file, JSON.stringify(json, null, 1));
    // JSON rather than the parseable format: it names each finding's path in the template.
    const run = spawnSync('cfn-lint', ['--format', 'json', '--', file], {
      encoding: 'utf8',
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new Error(
        'cfn-lint is not installed, and the stack tests lint every synthesized template with it: install it with `pip install cfn-lint` (Python 3.9+), then run the tests again.',
      );
    }
    // Exit status: a bit per level found (2 errors, 4 warnings, 8 informational); 1 or a signal is a crash.
    if (run.error || run.status === null || (run.status & 1) === 1) {
      throw new Error(`cfn-lint did not run: ${run.error?.message ?? run.stderr}`);
    }
    const findings = JSON.parse(run.stdout) as {
      Rule: { Id: string };
      Level: string;
      Location: { Path: (string | number)[] };
      Message: string;
    }[];
    return findings.map((finding) => ({
      rule: finding.Rule.Id,
      level: finding.Level,
      path: finding.Location.Path.join('/'),
      message: finding.Message,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** cfn-lint's findings other than ALLOWED_CFN_LINT_WARNINGS, as "rule level at path: message". */
export function disallowedCfnLintFindings(findings: readonly CfnLintFinding[]): string[] {
  return findings
    .filter((finding) => !(finding.level === 'Warning' && finding.rule in ALLOWED_CFN_LINT_WARNINGS))
    .map(
      (finding) => `${finding.rule} (${finding.level}) at ${finding.path}: ${finding.message.slice(0, 300)}`,
    );
}

const KEEPS_ON_DELETE = new Set(['Retain', 'RetainExceptOnCreate', 'Snapshot']);

/**
 * Resources CloudFormation leaves behind (DeletionPolicy or UpdateReplacePolicy Retain,
 * RetainExceptOnCreate or Snapshot) that carry a fixed physical name: a top-level "…Name" property
 * whose value is built from text and pseudo parameters alone. The stack's id (new for every stack
 * created) or another resource's reference makes a name unfixed. A redeploy after `cdk destroy`, or
 * after a first deploy that rolled back, fails on such a name: the kept resource still holds it.
 */
export function retainedResourcesWithFixedNames(json: TemplateJson): string[] {
  const resourceIds = new Set(Object.keys(json.Resources));
  const varies = (value: unknown): boolean => {
    if (Array.isArray(value)) return value.some(varies);
    if (!value || typeof value !== 'object') return false;
    const record = value as Record<string, unknown>;
    if (typeof record.Ref === 'string') return record.Ref === 'AWS::StackId' || resourceIds.has(record.Ref);
    if (Array.isArray(record['Fn::GetAtt'])) return true;
    return Object.values(record).some(varies);
  };
  return Object.entries(json.Resources).flatMap(([id, resource]) => {
    const kept =
      KEEPS_ON_DELETE.has(resource.DeletionPolicy ?? '') ||
      KEEPS_ON_DELETE.has(resource.UpdateReplacePolicy ?? '');
    if (!kept) return [];
    return Object.entries(resource.Properties ?? {})
      .filter(([property, value]) => /Name$/.test(property) && !varies(value))
      .map(([property, value]) => `${id} (${resource.Type}) ${property}: ${JSON.stringify(value)}`);
  });
}
