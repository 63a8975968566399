import { readFileSync } from 'node:fs';
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
  Outputs?: Record<string, { Value: unknown }>;
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
