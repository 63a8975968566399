import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type LogGroupProps, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { functionSettings, LAMBDA_FUNCTIONS, type LambdaFunctionId } from '../../functions/catalog.ts';
import { LAMBDA_BUNDLING } from '../lambda-bundling.ts';
import { repoPath } from '../paths.ts';

/** cdk-nag's finding for a policy statement whose resource is "*". */
export const WILDCARD_RESOURCE_FINDING = 'AwsSolutions-IAM5[Resource::*]';

/** Retention of every log group the stack creates. */
export const LOG_RETENTION = RetentionDays.THREE_MONTHS;

/**
 * Every log group the stack creates: kept for LOG_RETENTION, and kept when the stack is deleted or
 * the group replaced, but deleted when its own creation rolls back (nothing was logged to it yet).
 */
export const LOG_GROUP_DEFAULTS = {
  retention: LOG_RETENTION,
  removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
} as const satisfies LogGroupProps;

function addFilesHooks(addFiles: (outputDir: string) => string[]): ICommandHooks {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    // Each command runs in the project root (ProjectFunction's projectRoot).
    afterBundling: (_inputDir, outputDir) => addFiles(outputDir),
  };
}

export interface ProjectFunctionProps {
  /**
   * Which of the product's functions: its entry file, description, timeout and memory come from
   * LAMBDA_FUNCTIONS, which local mode reads too.
   */
  readonly functionId: LambdaFunctionId;
  /** Shell commands, run in the repository after esbuild, that add files to the bundle's output directory. */
  readonly addFilesToBundle?: (outputDir: string) => string[];
}

/**
 * One of the product's Lambda functions with the project's defaults: Node.js 24 on arm64, the
 * handler and the AWS SDK bundled as minified ESM with source maps, active X-Ray tracing, and its
 * own log group and role (no managed policies: the role may write to that log group and nothing else
 * until a grant adds to it).
 */
export class ProjectFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly functionId: LambdaFunctionId;
  /** What the function does (LAMBDA_FUNCTIONS). */
  readonly description: string;

  constructor(scope: Construct, id: string, props: ProjectFunctionProps) {
    super(scope, id);
    const definition = LAMBDA_FUNCTIONS[props.functionId];
    const settings = functionSettings(props.functionId);
    this.functionId = props.functionId;
    this.description = definition.description;

    this.logGroup = new LogGroup(this, 'Logs', LOG_GROUP_DEFAULTS);
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${props.functionId} function`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: repoPath(settings.entry),
      handler: 'handler',
      description: definition.description,
      projectRoot: repoPath('.'),
      depsLockFilePath: repoPath('package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: settings.memoryMb,
      timeout: Duration.seconds(settings.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      // Stack traces in the logs point into the TypeScript sources.
      environment: { NODE_OPTIONS: '--enable-source-maps' },
      bundling: {
        format: OutputFormat.ESM,
        target: LAMBDA_BUNDLING.nodeTarget,
        mainFields: [...LAMBDA_BUNDLING.mainFields],
        minify: LAMBDA_BUNDLING.minify,
        sourceMap: true,
        sourcesContent: false,
        bundleAwsSDK: true,
        banner: LAMBDA_BUNDLING.banner,
        ...(props.addFilesToBundle ? { commandHooks: addFilesHooks(props.addFilesToBundle) } : {}),
      },
    });
    Validations.of(this).acknowledge({
      id: WILDCARD_RESOURCE_FINDING,
      reason:
        'Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.',
    });
  }

  get functionArn(): string {
    return this.function.functionArn;
  }

  addEnvironment(name: string, value: string): void {
    this.function.addEnvironment(name, value);
  }

  addToRolePolicy(statement: PolicyStatement): void {
    this.role.addToPrincipalPolicy(statement);
  }

  /**
   * Allows actions that AWS authorizes on no narrower resource than "*", and records why for cdk-nag.
   * Use only for such actions: everything else gets a grant scoped to its resources.
   */
  allowOnAnyResource(actions: string[], reason: string): void {
    this.addToRolePolicy(new PolicyStatement({ actions, resources: ['*'] }));
    Validations.of(this).acknowledge({
      id: WILDCARD_RESOURCE_FINDING,
      reason: `${actions.join(', ')}: ${reason}`,
    });
  }
}
